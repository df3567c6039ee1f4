//! The rules a request must follow, shared by the cart and by edges that check early.

use crate::types::SetQuantity;
pub use brigade_chassis::validation::ValidationError;

/// The smallest quantity of a line; removing a line is `DELETE`, not quantity 0.
pub const MIN_QUANTITY: u32 = 1;
/// The largest quantity of one line.
pub const MAX_QUANTITY: u32 = 99;
/// The most distinct products one cart holds.
pub const MAX_LINES: usize = 50;
/// The currency of an empty cart's zero total.
pub const EMPTY_CART_CURRENCY: &str = "EUR";

impl SetQuantity {
    /// The quantity, when it is within [`MIN_QUANTITY`]..=[`MAX_QUANTITY`].
    pub fn validate(&self) -> Result<u32, ValidationError> {
        match u32::try_from(self.quantity) {
            Ok(quantity) if (MIN_QUANTITY..=MAX_QUANTITY).contains(&quantity) => Ok(quantity),
            _ => Err(ValidationError::new(
                "quantity",
                format!(
                    "quantity must be between {MIN_QUANTITY} and {MAX_QUANTITY}, got {} \
                     (to remove a product, DELETE its line)",
                    self.quantity
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_from_1_to_99_are_accepted() {
        for quantity in [1, 2, 98, 99] {
            assert_eq!(SetQuantity { quantity }.validate(), Ok(quantity as u32));
        }
    }

    #[test]
    fn other_quantities_are_refused_naming_the_field() {
        for quantity in [0, -1, 100, i64::MAX, i64::MIN, 1 << 32] {
            let error = SetQuantity { quantity }.validate().err();
            assert_eq!(
                error.as_ref().map(|e| e.parameter.as_str()),
                Some("quantity")
            );
            let detail = error.map(|e| e.detail).unwrap_or_default();
            assert!(detail.contains(&quantity.to_string()), "{detail}");
        }
    }

    #[test]
    fn the_body_refuses_unknown_and_missing_fields() {
        assert!(serde_json::from_str::<SetQuantity>(r#"{"quantity":2,"price":1}"#).is_err());
        assert!(serde_json::from_str::<SetQuantity>(r#"{}"#).is_err());
        assert_eq!(
            serde_json::from_str::<SetQuantity>(r#"{"quantity":-3}"#).ok(),
            Some(SetQuantity { quantity: -3 })
        );
    }
}
