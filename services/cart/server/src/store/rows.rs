//! Decoding rows into lines.

use cart_api::Money;
use uuid::Uuid;

use super::Error;
use crate::lines::Line;

/// `product_id, sku, name, unit_price_minor, currency, quantity, added_version, set_version`.
pub(super) type LineRow = (String, String, String, i64, String, i64, i64, i64);

/// `version, updated_at_ms`, then a [`LineRow`] whose columns are all null for a cart without
/// lines (the left join found none).
pub(super) type LoadRow = (
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

pub(super) fn line(row: LineRow) -> Result<Line, Error> {
    let (product_id, sku, name, amount_minor, currency, quantity, added_version, set_version) = row;
    let corrupt =
        |reason: String| Error::corrupt(format!("cart line for product {product_id}"), reason);
    Ok(Line {
        product_id: Uuid::parse_str(&product_id)
            .map_err(|e| corrupt(format!("the product id is not a UUID: {e}")))?,
        sku,
        name,
        unit_price: Money {
            amount_minor,
            currency,
        },
        quantity: u32::try_from(quantity)
            .map_err(|_| corrupt(format!("the quantity {quantity} is negative")))?,
        added_version,
        set_version,
    })
}

/// The line of a [`LoadRow`], if it has one.
pub(super) fn loaded_line(row: LoadRow) -> Result<Option<Line>, Error> {
    match row {
        (
            _,
            _,
            Some(product_id),
            Some(sku),
            Some(name),
            Some(amount_minor),
            Some(currency),
            Some(quantity),
            Some(added_version),
            Some(set_version),
        ) => line((
            product_id,
            sku,
            name,
            amount_minor,
            currency,
            quantity,
            added_version,
            set_version,
        ))
        .map(Some),
        _ => Ok(None),
    }
}
