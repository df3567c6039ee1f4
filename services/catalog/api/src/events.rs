//! The events the catalog publishes (through its outbox). Subject: the product id.

use serde::{Deserialize, Serialize};

use crate::Product;

/// The service that publishes these events.
pub const SOURCE: &str = "catalog";

/// A product was added or changed: the product as it is now (a snapshot, so that a consumer
/// never needs to call back for the rest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductChanged {
    pub product: Product,
}

brigade_chassis::declare_events!(
    source: SOURCE,
    subject: product.id,
    ProductChanged: 1,
);
