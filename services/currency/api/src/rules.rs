//! The rules a request must follow, shared by the service and by edges that check early.

use std::collections::BTreeMap;

use brigade_chassis::problem::quoted;
pub use brigade_chassis::validation::ValidationError;
use serde::{Deserialize, Serialize};
use time::macros::format_description;

use crate::rate::Rate;
use crate::BASE;

/// The largest amount converted, in minor units of the source currency: ten trillion units of a
/// currency with cents, far above any order, and small enough that every conversion is exact in
/// 128-bit integers.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000_000;

/// The most currencies one table of rates holds (ISO 4217 lists fewer than 200).
pub const MAX_CURRENCIES: usize = 200;

/// An ISO 4217 code from `text`, given as `parameter`: three upper-case letters. Whether the
/// service has a rate for it is the service's answer (`unknown-currency`), not a rule of form.
pub fn parse_code(parameter: &str, text: &str) -> Result<String, ValidationError> {
    if text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase()) {
        return Ok(text.to_owned());
    }
    Err(ValidationError::new(
        parameter,
        format!(
            "{parameter} must be an ISO 4217 currency code, three upper-case letters such as \
             EUR or JPY, got {}",
            quoted(text)
        ),
    ))
}

/// The query string of `GET /v1/convert`. Every parameter is required; each is kept as the text
/// sent, so that a missing or malformed one is refused by [`Self::validate`] with a problem
/// naming it. Unknown parameters are refused rather than ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConvertQuery {
    /// The currency of `amount` (ISO 4217, e.g. `USD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(required = true, value_type = String, pattern = "^[A-Z]{3}$", example = "USD")]
    pub from: Option<String>,
    /// The currency to convert to (ISO 4217, e.g. `JPY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(required = true, value_type = String, pattern = "^[A-Z]{3}$", example = "JPY")]
    pub to: Option<String>,
    /// The amount in minor units of `from` (cents for USD, yen for JPY): a whole number from 0
    /// to 10^15.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(required = true, value_type = i64, minimum = 0, maximum = 1_000_000_000_000_000_i64, example = 1234)]
    pub amount: Option<String>,
}

/// A conversion that follows the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    pub from: String,
    pub to: String,
    /// In minor units of `from`, 0 to [`MAX_AMOUNT_MINOR`].
    pub amount_minor: i64,
}

impl Conversion {
    /// `amount_minor` minor units of `from` in `to`. The codes must be ISO 4217 codes and the
    /// amount within the rules, as [`ConvertQuery::validate`] checks; the service refuses
    /// others.
    pub fn new(from: &str, to: &str, amount_minor: i64) -> Conversion {
        Conversion {
            from: from.to_owned(),
            to: to.to_owned(),
            amount_minor,
        }
    }
}

impl ConvertQuery {
    /// The conversion asked for; the first parameter missing or malformed is refused, in the
    /// order `from`, `to`, `amount`.
    pub fn validate(&self) -> Result<Conversion, ValidationError> {
        let from = parse_code("from", required("from", self.from.as_deref())?)?;
        let to = parse_code("to", required("to", self.to.as_deref())?)?;
        let amount = required("amount", self.amount.as_deref())?;
        let amount_minor = match amount.parse::<i64>() {
            Ok(n) if (0..=MAX_AMOUNT_MINOR).contains(&n) && !amount.starts_with('+') => n,
            _ => {
                return Err(ValidationError::new(
                    "amount",
                    format!(
                        "amount must be a whole number of minor units (cents, yen…) from 0 to \
                         {MAX_AMOUNT_MINOR}, got {}",
                        quoted(amount)
                    ),
                ))
            }
        };
        Ok(Conversion {
            from,
            to,
            amount_minor,
        })
    }
}

fn required<'a>(parameter: &str, value: Option<&'a str>) -> Result<&'a str, ValidationError> {
    value.ok_or_else(|| ValidationError::new(parameter, format!("{parameter} is required")))
}

/// The body of `PUT /v1/rates`: a whole new table of rates, which replaces the one in force.
/// Rates are decimal strings (`"1.0575"`), never JSON numbers, so that none is read as a float.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceRates {
    /// The day the rates are for (`YYYY-MM-DD`).
    #[schema(example = "2026-12-04", format = Date)]
    pub date: String,
    /// Units of each currency one euro buys, by ISO 4217 code: positive decimals with at most 8
    /// places. Must include `EUR` at exactly `"1"`. Every code must be one the service knows
    /// (those of `GET /v1/currencies`'s sample table); the currencies listed become the
    /// supported ones.
    #[schema(example = json!({"EUR": "1", "USD": "1.0575", "JPY": "158.12"}))]
    pub rates: BTreeMap<String, String>,
}

/// A table of rates that follows the rules: its date, and each currency's rate, by code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateTable {
    pub date: String,
    pub rates: BTreeMap<String, Rate>,
}

impl ReplaceRates {
    /// The table, or the first rule it breaks (the parameter is `date`, `rates`, or
    /// `rates.<CODE>`).
    pub fn validate(&self) -> Result<RateTable, ValidationError> {
        let date = parse_date(&self.date)?;
        let listed = self.rates.len();
        if !(1..=MAX_CURRENCIES).contains(&listed) {
            let detail = format!("rates must list 1 to {MAX_CURRENCIES} currencies, got {listed}");
            return Err(ValidationError::new("rates", detail));
        }
        let mut rates = BTreeMap::new();
        for (code, text) in &self.rates {
            let code = parse_code("rates", code)?;
            let parameter = format!("rates.{code}");
            let rate: Rate = text.parse().map_err(|e| {
                ValidationError::new(&parameter, format!("{e}, got {}", quoted(text)))
            })?;
            rates.insert(code, rate);
        }
        match rates.get(BASE) {
            Some(&Rate::ONE) => Ok(RateTable { date, rates }),
            Some(other) => Err(ValidationError::new(
                format!("rates.{BASE}"),
                format!("rates are quoted against {BASE}, so its own rate must be 1, got {other}"),
            )),
            None => Err(ValidationError::new(
                "rates",
                format!("rates are quoted against {BASE}, which must be listed at 1"),
            )),
        }
    }
}

/// A calendar date as `YYYY-MM-DD`.
fn parse_date(text: &str) -> Result<String, ValidationError> {
    time::Date::parse(text, format_description!("[year]-[month]-[day]"))
        .map(|_| text.to_owned())
        .map_err(|_| {
            ValidationError::new(
                "date",
                format!(
                    "date must be a calendar date as YYYY-MM-DD, got {}",
                    quoted(text)
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(text: &str) -> Result<Conversion, ValidationError> {
        serde_urlencoded::from_str::<ConvertQuery>(text)
            .map_err(|e| ValidationError::new("query", e.to_string()))?
            .validate()
    }

    fn refused(result: Result<impl std::fmt::Debug, ValidationError>) -> (String, String) {
        let error = result.err().unwrap_or_else(|| ValidationError::new("", ""));
        (error.parameter, error.detail)
    }

    #[test]
    fn a_conversion_needs_two_codes_and_a_whole_amount() {
        assert_eq!(
            query("from=USD&to=JPY&amount=1234").ok(),
            Some(Conversion {
                from: "USD".into(),
                to: "JPY".into(),
                amount_minor: 1234
            })
        );
        assert_eq!(
            query(&crate::paths::convert(&Conversion::new("EUR", "EUR", MAX_AMOUNT_MINOR))[12..])
                .map(|c| c.amount_minor),
            Ok(MAX_AMOUNT_MINOR)
        );
        assert_eq!(
            query("from=USD&to=JPY&amount=0").map(|c| c.amount_minor),
            Ok(0)
        );
    }

    #[test]
    fn each_parameter_is_refused_by_name() {
        // Each case: the query string, and the parameter named with what its detail says.
        for (text, refusal) in [
            ("to=JPY&amount=1", "from: from is required"),
            ("from=USD&amount=1", "to: to is required"),
            ("from=USD&to=JPY", "amount: amount is required"),
            ("from=usd&to=JPY&amount=1", "from: from must be an ISO 4217"),
            ("from=USD&to=YEN1&amount=1", "to: to must be an ISO 4217"),
            (
                "from=USD&to=JPY&amount=12.5",
                "amount: amount must be a whole",
            ),
            (
                "from=USD&to=JPY&amount=-1",
                "amount: amount must be a whole",
            ),
            (
                "from=USD&to=JPY&amount=abc",
                "amount: amount must be a whole",
            ),
            (
                "from=USD&to=JPY&amount=%2B5",
                "amount: amount must be a whole",
            ),
            (
                "from=USD&to=JPY&amount=1000000000000001",
                "amount: amount must",
            ),
            (
                "from=USD&to=JPY&amount=99999999999999999999",
                "amount: amount",
            ),
        ] {
            let (name, detail) = refused(query(text));
            let said = format!("{name}: {detail}");
            assert!(said.starts_with(refusal), "{text}: {said}");
        }
        // The value sent is quoted as it was read (`+` in a query string is a space).
        let (_, detail) = refused(query("from=USD&to=JPY&amount=%2B5"));
        assert!(detail.ends_with("got `+5`"), "{detail}");
        let (_, detail) = refused(query("from=usd&to=JPY&amount=+5"));
        assert!(detail.ends_with("got `usd`"), "{detail}");
        assert!(serde_urlencoded::from_str::<ConvertQuery>("from=USD&sum=1").is_err());
    }

    fn table(date: &str, rates: &[(&str, &str)]) -> ReplaceRates {
        ReplaceRates {
            date: date.into(),
            rates: rates
                .iter()
                .map(|(c, r)| ((*c).to_owned(), (*r).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn a_table_has_a_date_the_base_at_1_and_positive_rates() {
        let valid = table(
            "2026-12-04",
            &[("EUR", "1"), ("USD", "1.0575"), ("JPY", "158.1")],
        );
        let checked = valid.validate().ok();
        assert_eq!(checked.as_ref().map(|t| t.rates.len()), Some(3));
        assert_eq!(
            checked.and_then(|t| t.rates.get("USD").map(|r| r.scaled())),
            Some(105_750_000)
        );
        for (bad, parameter, says) in [
            (table("2026-13-01", &[("EUR", "1")]), "date", "YYYY-MM-DD"),
            (
                table("04/12/2026", &[("EUR", "1")]),
                "date",
                "got `04/12/2026`",
            ),
            (table("2026-12-04", &[]), "rates", "1 to 200"),
            (table("2026-12-04", &[("USD", "1.05")]), "rates", "EUR"),
            (
                table("2026-12-04", &[("EUR", "1.5")]),
                "rates.EUR",
                "must be 1",
            ),
            (
                table("2026-12-04", &[("EUR", "1"), ("USD", "0")]),
                "rates.USD",
                "positive",
            ),
            (
                table("2026-12-04", &[("EUR", "1"), ("USD", "-2")]),
                "rates.USD",
                "got `-2`",
            ),
            (
                table("2026-12-04", &[("EUR", "1"), ("usd", "2")]),
                "rates",
                "got `usd`",
            ),
        ] {
            let (name, detail) = refused(bad.validate());
            assert_eq!(name, parameter, "{bad:?}");
            assert!(detail.contains(says), "{bad:?}: {detail}");
        }
    }
}
