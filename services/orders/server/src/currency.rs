//! A checkout paid in another currency than the catalog's: the whole total (lines and shipping)
//! converted by the currency service, which answers the amount with the rates it used, so that
//! the order records how its charge was computed. A checkout in the catalog's currency never
//! calls it: currency is a dependency of foreign-currency checkouts only.

use catalog_api::Money;
use currency_api::{Conversion, Converted};
use orders_api::OrderConversion;

use crate::saga::{StepError, Steps};

/// Why a checkout's total could not be converted. Nothing has been recorded yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurrencyError {
    /// The currency service could not be asked (down, timed out, failing).
    #[error("the currency service is unavailable: {0}")]
    Unavailable(String),
    /// It has no rate for the currency asked for (or, in a broken table, the catalog's).
    #[error("no rate for {0}")]
    Unknown(String),
    /// It refused the conversion otherwise (`code` is its problem's code).
    #[error("the currency service refused the conversion: {code}: {detail}")]
    Refused { code: String, detail: String },
    /// It answered a conversion of another amount or into another currency.
    #[error("the currency service answered another conversion: {0}")]
    Mismatch(String),
}

/// `total` as charged when the shopper pays in `to`: unchanged (and no conversion) when `to`
/// is absent or `total`'s own currency; otherwise converted, with how.
pub async fn charged(
    steps: &dyn Steps,
    total: Money,
    to: Option<&str>,
) -> Result<(Money, Option<OrderConversion>), CurrencyError> {
    let Some(to) = to.filter(|to| *to != total.currency) else {
        return Ok((total, None));
    };
    let asked = Conversion::new(&total.currency, to, total.amount_minor);
    let converted = steps.convert(&asked).await.map_err(|e| match e {
        StepError::Transient(why) => CurrencyError::Unavailable(why),
        StepError::Rejected { code, .. } if code == currency_api::problems::UNKNOWN_CURRENCY => {
            CurrencyError::Unknown(to.to_owned())
        }
        StepError::Rejected { code, detail } => CurrencyError::Refused { code, detail },
    })?;
    // The answer is recorded as the order's truth: it must be the conversion asked for.
    if converted.from != total || converted.to.currency != to {
        return Err(CurrencyError::Mismatch(format!(
            "asked {} {} in {to}, answered {} {} in {}",
            total.amount_minor,
            total.currency,
            converted.from.amount_minor,
            converted.from.currency,
            converted.to.currency
        )));
    }
    let Converted {
        from,
        to: amount,
        rate,
        from_rate,
        to_rate,
        date,
        ..
    } = converted;
    let conversion = OrderConversion {
        base_total: from,
        rate,
        from_rate: from_rate.to_string(),
        to_rate: to_rate.to_string(),
        rate_date: date,
    };
    Ok((amount, Some(conversion)))
}
