//! The events the catalog publishes (through its outbox). Subject: the product id.

use brigade_chassis::events::Event;
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

impl Event for ProductChanged {
    const SOURCE: &'static str = SOURCE;
    const NAME: &'static str = "ProductChanged";
    const VERSION: u32 = 1;
    fn subject(&self) -> String {
        self.product.id.to_string()
    }
}
