//! Catalog values for the tests of the services that read the catalog (feature `testing`).

use uuid::Uuid;

use crate::{Money, Product};

/// Product number `n`: id `n`, SKU `SKU-{n}`, named `Product {n}`, in category `test`, priced
/// `amount_minor` in `currency`, without description, image or tags. A test that shows other
/// values sets them: `Product { sku: …, ..product(n, 100, "EUR") }`.
pub fn product(n: u128, amount_minor: i64, currency: &str) -> Product {
    Product {
        id: Uuid::from_u128(n),
        sku: format!("SKU-{n}"),
        name: format!("Product {n}"),
        description: String::new(),
        category: "test".to_owned(),
        price: Money {
            amount_minor,
            currency: currency.to_owned(),
        },
        image_url: String::new(),
        tags: Vec::new(),
    }
}
