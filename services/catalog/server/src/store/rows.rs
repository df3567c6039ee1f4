//! Decoding product rows. Every product query selects the same columns, in this order.

use catalog_api::{Money, Product};
use uuid::Uuid;

use super::Error;

/// `id, sku, name, description, category, price_minor, currency, image_url, tags`.
pub(crate) type ProductRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
);

/// A [`ProductRow`] followed by the number of rows matching the query on all pages.
pub(crate) type ListedRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
    i64,
);

/// The product columns of table alias `p`, for a select list. PostgreSQL keeps ids as `uuid`;
/// the text form is the one both backends decode.
pub(crate) const COLUMNS: &str = "CAST(p.id AS TEXT), p.sku, p.name, p.description, p.category, \
     p.price_minor, p.currency, p.image_url, p.tags";

pub(crate) fn product(row: ProductRow) -> Result<Product, Error> {
    let (id, sku, name, description, category, amount_minor, currency, image_url, tags) = row;
    let corrupt = |reason: String| Error::corrupt(format!("product {sku}"), reason);
    let id = Uuid::parse_str(&id).map_err(|e| corrupt(format!("id `{id}` is not a UUID: {e}")))?;
    let tags = serde_json::from_str(&tags)
        .map_err(|e| corrupt(format!("tags are not a JSON array of strings: {e}")))?;
    Ok(Product {
        id,
        sku,
        name,
        description,
        category,
        price: Money {
            amount_minor,
            currency,
        },
        image_url,
        tags,
    })
}

/// Splits a listed row into its product and the total.
pub(crate) fn listed(row: ListedRow) -> (ProductRow, i64) {
    let (id, sku, name, description, category, price, currency, image_url, tags, total) = row;
    (
        (
            id,
            sku,
            name,
            description,
            category,
            price,
            currency,
            image_url,
            tags,
        ),
        total,
    )
}
