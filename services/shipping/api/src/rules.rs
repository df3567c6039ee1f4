//! The rules a request must follow, shared by the shipping service and by callers that check
//! early. Whether the shop ships to a well-formed country is the service's to say (422), not a
//! rule of the request's shape (400).

use std::collections::HashSet;

use brigade_chassis::problem::quoted;
pub use brigade_chassis::validation::ValidationError;
use uuid::Uuid;

use crate::types::QuoteRequest;

/// The most lines one quote may have.
pub const MAX_ITEMS: usize = 100;
/// The most units of one line.
pub const MAX_QUANTITY: u32 = 1000;
/// The longest SKU, in characters.
pub const MAX_SKU_CHARS: usize = 64;
/// The heaviest unit, in grams.
pub const MAX_UNIT_WEIGHT_GRAMS: u32 = 50_000;
/// What one unit weighs when the request does not say: the catalog keeps no weights.
pub const DEFAULT_UNIT_WEIGHT_GRAMS: u32 = 500;

/// Checks that `country` has the shape of an ISO 3166-1 alpha-2 code (two upper-case ASCII
/// letters).
pub fn validate_country(parameter: &str, country: &str) -> Result<(), ValidationError> {
    if country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(ValidationError::new(
            parameter,
            format!(
                "{} is not a country code: use ISO 3166-1 alpha-2, two upper-case letters such as FR",
                quoted(country)
            ),
        ))
    }
}

/// An order's tracking number: derived from its id, so it is unique as order ids are and the
/// same however often the shipment is made.
pub fn tracking_number(order_id: Uuid) -> String {
    format!("BRG{}", order_id.simple()).to_ascii_uppercase()
}

impl QuoteRequest {
    /// Checks the request's shape: the country's form, 1 to [`MAX_ITEMS`] lines with distinct
    /// well-formed SKUs, quantities 1 to [`MAX_QUANTITY`], weights 1 to
    /// [`MAX_UNIT_WEIGHT_GRAMS`].
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate_country("country", &self.country)?;
        if self.items.is_empty() || self.items.len() > MAX_ITEMS {
            return Err(ValidationError::new(
                "items",
                format!(
                    "items must have 1 to {MAX_ITEMS} lines, got {}",
                    self.items.len()
                ),
            ));
        }
        let mut seen = HashSet::new();
        for (i, item) in self.items.iter().enumerate() {
            let sku_ok = !item.sku.is_empty()
                && item.sku.len() <= MAX_SKU_CHARS
                && item
                    .sku
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !sku_ok {
                return Err(ValidationError::new(
                    format!("items[{i}].sku"),
                    format!(
                        "{} is not a SKU: 1 to {MAX_SKU_CHARS} ASCII letters, digits, `-`, `_` or `.`",
                        quoted(&item.sku)
                    ),
                ));
            }
            if !seen.insert(item.sku.as_str()) {
                return Err(ValidationError::new(
                    format!("items[{i}].sku"),
                    format!("{} is listed twice: one line per SKU", quoted(&item.sku)),
                ));
            }
            if !(1..=MAX_QUANTITY).contains(&item.quantity) {
                return Err(ValidationError::new(
                    format!("items[{i}].quantity"),
                    format!(
                        "quantity must be 1 to {MAX_QUANTITY}, got {}",
                        item.quantity
                    ),
                ));
            }
            if let Some(grams) = item.unit_weight_grams {
                if !(1..=MAX_UNIT_WEIGHT_GRAMS).contains(&grams) {
                    return Err(ValidationError::new(
                        format!("items[{i}].unit_weight_grams"),
                        format!(
                            "unit_weight_grams must be 1 to {MAX_UNIT_WEIGHT_GRAMS}, got {grams}"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::QuoteItem;

    fn request(country: &str, items: &[(&str, u32, Option<u32>)]) -> QuoteRequest {
        QuoteRequest {
            country: country.to_owned(),
            items: items
                .iter()
                .map(|&(sku, quantity, unit_weight_grams)| QuoteItem {
                    sku: sku.to_owned(),
                    quantity,
                    unit_weight_grams,
                })
                .collect(),
        }
    }

    #[test]
    fn each_broken_rule_names_its_parameter() {
        assert_eq!(request("FR", &[("KIT-1", 2, None)]).validate(), Ok(()));
        for (bad, parameter) in [
            (request("fr", &[("A", 1, None)]), "country"),
            (request("FRA", &[("A", 1, None)]), "country"),
            (request("FR", &[]), "items"),
            (request("FR", &[("", 1, None)]), "items[0].sku"),
            (
                request("FR", &[("A", 1, None), ("A", 1, None)]),
                "items[1].sku",
            ),
            (request("FR", &[("A", 0, None)]), "items[0].quantity"),
            (request("FR", &[("A", 1001, None)]), "items[0].quantity"),
            (
                request("FR", &[("A", 1, Some(0))]),
                "items[0].unit_weight_grams",
            ),
        ] {
            let error = bad.validate().err();
            assert_eq!(error.map(|e| e.parameter), Some(parameter.to_owned()));
        }
    }

    #[test]
    fn tracking_numbers_are_the_order_id_in_capitals() {
        let id = Uuid::from_u128(0xabc);
        assert_eq!(tracking_number(id), "BRG00000000000000000000000000000ABC");
    }
}
