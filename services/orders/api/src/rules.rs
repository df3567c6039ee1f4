//! The rules a request must follow, shared by the orders service and by edges that check early.

use serde::{Deserialize, Serialize};

pub use brigade_chassis::validation::{
    check_idempotency_key, ValidationError, DEFAULT_PAGE_SIZE, MAX_IDEMPOTENCY_KEY_CHARS,
    MAX_PAGE_SIZE,
};

use brigade_chassis::validation::check_page_size;

use crate::types::{CheckoutRequest, ShippingAddress};

/// The fewest digits of a card number.
pub const MIN_CARD_DIGITS: usize = 12;
/// The most digits of a card number.
pub const MAX_CARD_DIGITS: usize = 19;
/// How long an order may stay `PENDING` before the audit calls it unfinished, by default.
pub const DEFAULT_AUDIT_AGE_S: u64 = 180;
/// The largest age the audit accepts.
pub const MAX_AUDIT_AGE_S: u64 = 7 * 24 * 3600;

impl CheckoutRequest {
    /// Checks the shape of the card number; whether the card is good is for payments to say.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let digits = self.card_number.len();
        let all_digits = self.card_number.bytes().all(|b| b.is_ascii_digit());
        if !all_digits || !(MIN_CARD_DIGITS..=MAX_CARD_DIGITS).contains(&digits) {
            return Err(ValidationError::new(
                "card_number",
                format!(
                    "card_number must be {MIN_CARD_DIGITS} to {MAX_CARD_DIGITS} digits with no \
                     spaces, got {} characters{}",
                    self.card_number.chars().count(),
                    if all_digits { "" } else { " with non-digits" }
                ),
            ));
        }
        if let Some(currency) = &self.currency {
            currency_api::parse_code("currency", currency)?;
        }
        self.shipping_address
            .as_ref()
            .map_or(Ok(()), ShippingAddress::validate)
    }
}

impl ShippingAddress {
    /// Checks each field's length (and that it is not only spaces) and form; whether shipping ships to the country is for
    /// shipping to say.
    pub fn validate(&self) -> Result<(), ValidationError> {
        for (field, value, most) in [
            ("name", &self.name, 100),
            ("street", &self.street, 200),
            ("city", &self.city, 100),
        ] {
            let chars = value.trim().chars().count();
            if chars == 0 || value.chars().count() > most {
                return Err(ValidationError::new(
                    format!("shipping_address.{field}"),
                    format!("{field} must be 1 to {most} characters, got {chars}"),
                ));
            }
        }
        let code = &self.postal_code;
        let code_ok = (1..=16).contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b' ' || b == b'-');
        if !code_ok {
            return Err(ValidationError::new(
                "shipping_address.postal_code",
                "postal_code must be 1 to 16 letters, digits, spaces or `-`",
            ));
        }
        shipping_api::validate_country("shipping_address.country", &self.country)
    }
}

/// `GET /v1/orders` query string: the chassis' paging rules. Unknown parameters are refused
/// rather than ignored.
pub type ListOrders = brigade_chassis::validation::PageQuery;

/// A listing request that follows every rule, with its defaults applied.
pub type OrderListQuery = brigade_chassis::validation::Page;

/// `GET /v1/audit` query string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// An order `PENDING` for longer than this many seconds is unfinished (default
    /// [`DEFAULT_AUDIT_AGE_S`], at most [`MAX_AUDIT_AGE_S`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(maximum = 604800)]
    pub older_than_s: Option<u64>,
}

impl AuditQuery {
    /// The age in seconds.
    pub fn validate(&self) -> Result<u64, ValidationError> {
        match self.older_than_s {
            None => Ok(DEFAULT_AUDIT_AGE_S),
            Some(age) if age <= MAX_AUDIT_AGE_S => Ok(age),
            Some(age) => Err(ValidationError::new(
                "older_than_s",
                format!("older_than_s must be at most {MAX_AUDIT_AGE_S}, got {age}"),
            )),
        }
    }
}

/// The most orders one `GET /v1/audit/orders` page holds.
pub const MAX_AUDIT_ORDERS_LIMIT: u32 = 1000;

/// `GET /v1/audit/orders` query string: pages of every order by id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditOrdersQuery {
    /// The `next` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<uuid::Uuid>,
    /// Orders per page, 1 to [`MAX_AUDIT_ORDERS_LIMIT`] (default 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<u64>, minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl AuditOrdersQuery {
    /// The page size.
    pub fn validate(&self) -> Result<u32, ValidationError> {
        check_page_size("limit", self.limit, 500, MAX_AUDIT_ORDERS_LIMIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_currency_is_an_iso_4217_code() {
        let paying = |c: &str| CheckoutRequest {
            card_number: "4242424242424242".to_owned(),
            shipping_address: None,
            currency: Some(c.to_owned()),
        };
        assert!(paying("USD").validate().is_ok());
        for bad in ["usd", "US", "DOLLAR", "", "U$D"] {
            let refused = paying(bad).validate().err();
            assert_eq!(
                refused.map(|e| e.parameter),
                Some("currency".into()),
                "{bad}"
            );
        }
    }

    #[test]
    fn card_numbers_are_12_to_19_digits() {
        let card = |n: &str| CheckoutRequest {
            card_number: n.to_owned(),
            shipping_address: None,
            currency: None,
        };
        assert!(card("4242424242424242").validate().is_ok());
        assert!(card("424242424242").validate().is_ok());
        for bad in [
            "42424242424",
            "42424242424242424242",
            "4242 4242 4242 4242",
            "",
        ] {
            let error = card(bad).validate().err();
            assert_eq!(
                error.as_ref().map(|e| e.parameter.as_str()),
                Some("card_number"),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_address_has_every_field_and_a_country_code() {
        let good = ShippingAddress {
            name: "Ada Lovelace".into(),
            street: "1 rue de la Paix".into(),
            city: "Paris".into(),
            postal_code: "75002".into(),
            country: "FR".into(),
        };
        assert_eq!(good.validate(), Ok(()));
        let broken = |change: fn(&mut ShippingAddress)| {
            let mut address = good.clone();
            change(&mut address);
            address.validate().err().map(|e| e.parameter)
        };
        let name = broken(|a| a.name = " ".into());
        assert_eq!(name.as_deref(), Some("shipping_address.name"));
        let code = broken(|a| a.postal_code = "75002;".into());
        assert_eq!(code.as_deref(), Some("shipping_address.postal_code"));
        let country = broken(|a| a.country = "France".into());
        assert_eq!(country.as_deref(), Some("shipping_address.country"));
    }
}
