//! The rules a request must follow, shared by the payments service and by edges that check early.

use uuid::Uuid;

use brigade_chassis::problem::quoted;
use brigade_chassis::validation::check_page_size;
pub use brigade_chassis::validation::MAX_IDEMPOTENCY_KEY_CHARS;

use crate::types::{ChargeRequest, LedgerQuery, RefundRequest};

/// The largest amount one charge may take, in minor units of its currency. A charge may be in
/// any currency (orders charges the currency the shopper checked out in), so the bound must hold
/// an order in the currency whose minor unit is worth least: 10^12 minor units are about
/// 500,000 euros in rupiah cents (19,412 IDR to the euro), and more in any other currency of
/// the currency service's table; a ledger sums millions of such charges within an `i64`.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000;
/// The shortest card number, in digits.
pub const MIN_CARD_DIGITS: usize = 12;
/// The longest card number, in digits.
pub const MAX_CARD_DIGITS: usize = 19;
/// The longest refund reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;
/// The ledger page size when none is asked for.
pub const DEFAULT_LEDGER_LIMIT: u32 = 100;
/// The largest ledger page.
pub const MAX_LEDGER_LIMIT: u32 = 500;

/// Where the input that broke a rule was, which decides the problem it becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Header,
    Path,
    Query,
    Body,
}

/// One input that breaks a rule: where, which parameter, and a sentence saying what is wrong and
/// what is accepted. The sentence never repeats a card number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {parameter}: {detail}")]
pub struct ValidationError {
    pub location: Location,
    pub parameter: &'static str,
    pub detail: String,
}

impl ValidationError {
    fn new(location: Location, parameter: &'static str, detail: String) -> ValidationError {
        ValidationError {
            location,
            parameter,
            detail,
        }
    }
}

impl From<ValidationError> for brigade_chassis::Problem {
    /// Header and query parameters are 400 `invalid-parameter`; body members are 422
    /// (`invalid-card` for the card number, `invalid-body` for the rest), like the chassis'
    /// own answer to a body of the wrong shape. Each names the parameter.
    fn from(e: ValidationError) -> Self {
        use brigade_chassis::Problem;
        use http::StatusCode;
        match e.location {
            Location::Header | Location::Path | Location::Query => {
                Problem::invalid_parameter(e.parameter, e.detail)
            }
            Location::Body if e.parameter == "card_number" => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                crate::problems::INVALID_CARD,
                "Invalid card number",
                e.detail,
            )
            .with("parameter", e.parameter),
            Location::Body => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "Invalid request body",
                e.detail,
            )
            .with("parameter", e.parameter),
        }
    }
}

/// The chassis' `Idempotency-Key` rule (shared by every service that takes a key), as a header
/// rule of this contract.
pub fn check_idempotency_key(key: &str) -> Result<(), ValidationError> {
    brigade_chassis::validation::check_idempotency_key(key)
        .map_err(|e| ValidationError::new(Location::Header, "Idempotency-Key", e.detail))
}

/// An order id given as text (a query parameter) must be a UUID.
pub fn check_order_id(text: &str) -> Result<Uuid, ValidationError> {
    Uuid::parse_str(text).map_err(|_| {
        ValidationError::new(
            Location::Query,
            "order_id",
            format!(
                "{} is not an order id: order ids are UUIDs, such as 4b0c3a5e-8f1d-4c2a-9e7b-1d2f3a4b5c6d",
                quoted(text)
            ),
        )
    })
}

/// The Luhn checksum of a string of ASCII digits (false for anything else).
pub fn luhn_valid(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

impl ChargeRequest {
    /// Checks the amount, the currency and the card number.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.amount_minor <= 0 || self.amount_minor > MAX_AMOUNT_MINOR {
            return Err(ValidationError::new(
                Location::Body,
                "amount_minor",
                format!(
                    "amount_minor must be more than 0 and at most {MAX_AMOUNT_MINOR} (in minor units), got {}",
                    self.amount_minor
                ),
            ));
        }
        let currency_ok =
            self.currency.len() == 3 && self.currency.bytes().all(|b| b.is_ascii_uppercase());
        if !currency_ok {
            return Err(ValidationError::new(
                Location::Body,
                "currency",
                format!(
                    "currency must be an ISO 4217 code of three upper-case letters, such as EUR, got {}",
                    quoted(&self.currency)
                ),
            ));
        }
        check_card_number(&self.card_number)
    }
}

/// Says what is wrong with a card number without repeating it.
fn check_card_number(number: &str) -> Result<(), ValidationError> {
    let fault = if !number.bytes().all(|b| b.is_ascii_digit()) {
        Some(
            "card_number must be digits only, without spaces or dashes (e.g. 4242424242424242)"
                .to_owned(),
        )
    } else if !(MIN_CARD_DIGITS..=MAX_CARD_DIGITS).contains(&number.len()) {
        Some(format!(
            "card_number must have {MIN_CARD_DIGITS} to {MAX_CARD_DIGITS} digits, got {}",
            number.len()
        ))
    } else if !luhn_valid(number) {
        Some("card_number fails the Luhn check: a digit is mistyped".to_owned())
    } else {
        None
    };
    match fault {
        Some(detail) => Err(ValidationError::new(Location::Body, "card_number", detail)),
        None => Ok(()),
    }
}

impl RefundRequest {
    /// Checks the reason's length.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let chars = self.reason.as_deref().map_or(0, |r| r.chars().count());
        if chars > MAX_REASON_CHARS {
            return Err(ValidationError::new(
                Location::Body,
                "reason",
                format!("reason must be at most {MAX_REASON_CHARS} characters, got {chars}"),
            ));
        }
        Ok(())
    }
}

impl LedgerQuery {
    /// Checks every parameter: the order filter, the cursor (a position in the ledger) and the
    /// page size, default applied.
    pub fn validate(&self) -> Result<LedgerFilter, ValidationError> {
        let order_id = self.order_id.as_deref().map(check_order_id).transpose()?;
        let after = match self.after.as_deref() {
            None | Some("") => 0,
            Some(cursor) => cursor
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    ValidationError::new(
                        Location::Query,
                        "after",
                        format!(
                            "{} is not a ledger cursor: pass the `next` of the previous page",
                            quoted(cursor)
                        ),
                    )
                })?,
        };
        let limit = check_page_size("limit", self.limit, DEFAULT_LEDGER_LIMIT, MAX_LEDGER_LIMIT)
            .map_err(|e| ValidationError::new(Location::Query, "limit", e.detail))?;
        Ok(LedgerFilter {
            order_id,
            after,
            limit,
        })
    }
}

/// A ledger request that follows every rule, with its defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerFilter {
    /// Only this order's entries.
    pub order_id: Option<Uuid>,
    /// Only entries after this position (0: from the start).
    pub after: i64,
    /// At most this many entries.
    pub limit: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_cards;

    fn request(card: &str) -> ChargeRequest {
        ChargeRequest {
            order_id: Uuid::from_u128(1),
            amount_minor: 1999,
            currency: "EUR".into(),
            card_number: card.into(),
        }
    }

    #[test]
    fn every_test_card_passes_the_luhn_check() {
        for card in test_cards::ALL {
            assert!(request(card).validate().is_ok(), "{card}");
        }
    }

    #[test]
    fn bad_card_numbers_are_refused_without_being_repeated() {
        for card in [
            "4242424242424241",
            "4242 4242 4242 4242",
            "42424242424",
            "42424242424242424242",
            "",
        ] {
            let error = request(card)
                .validate()
                .err()
                .unwrap_or_else(|| panic!("{card}"));
            assert_eq!(error.parameter, "card_number");
            assert!(card.is_empty() || !error.detail.contains(card), "{error}");
        }
    }

    #[test]
    fn amounts_and_currencies_have_limits() {
        for amount in [0, -1, MAX_AMOUNT_MINOR + 1] {
            let bad = ChargeRequest {
                amount_minor: amount,
                ..request(test_cards::APPROVED)
            };
            assert_eq!(
                bad.validate().err().map(|e| e.parameter),
                Some("amount_minor")
            );
        }
        let most = ChargeRequest {
            amount_minor: MAX_AMOUNT_MINOR,
            ..request(test_cards::APPROVED)
        };
        assert!(most.validate().is_ok());
        for currency in ["eur", "EURO", "E1R", ""] {
            let bad = ChargeRequest {
                currency: currency.into(),
                ..request(test_cards::APPROVED)
            };
            assert_eq!(bad.validate().err().map(|e| e.parameter), Some("currency"));
        }
    }

    #[test]
    fn idempotency_keys_are_short_visible_ascii() {
        assert!(check_idempotency_key("order-1:charge").is_ok());
        assert!(check_idempotency_key(&"k".repeat(128)).is_ok());
        for bad in ["", "has space", "tab\t", "é", &"k".repeat(129)] {
            assert!(check_idempotency_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_output_masks_the_card_number() {
        let shown = format!("{:?}", request(test_cards::APPROVED));
        assert!(!shown.contains("4242"), "{shown}");
    }

    #[test]
    fn ledger_queries_check_cursor_and_limit() {
        let query = |after: Option<&str>, limit| LedgerQuery {
            order_id: None,
            after: after.map(str::to_owned),
            limit,
        };
        let filter = |after, limit| LedgerFilter {
            order_id: None,
            after,
            limit,
        };
        assert_eq!(
            query(None, None).validate(),
            Ok(filter(0, DEFAULT_LEDGER_LIMIT))
        );
        assert_eq!(query(Some("42"), Some(500)).validate(), Ok(filter(42, 500)));
        for (bad, parameter) in [
            (query(Some("x"), None), "after"),
            (query(Some("-1"), None), "after"),
            (query(None, Some(0)), "limit"),
            (query(None, Some(501)), "limit"),
        ] {
            assert_eq!(bad.validate().err().map(|e| e.parameter), Some(parameter));
        }
    }
}
