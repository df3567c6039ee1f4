//! What goes over the wire. Field names are the JSON names; changing one breaks callers.

use catalog_api::Money;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A user's cart. An empty cart is a cart with no lines, never a 404.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Cart {
    pub user_id: Uuid,
    /// In the order the products were first added.
    pub lines: Vec<CartLine>,
    /// The sum of the line totals; an empty cart's is zero [`crate::EMPTY_CART_CURRENCY`].
    pub total: Money,
    /// The sum of the quantities.
    pub item_count: u32,
    /// Incremented by every change (a re-pricing included); 0 for a cart never changed. A
    /// caller that read version N can tell whether the cart is still what it read.
    pub version: u64,
    /// When the cart last changed, Unix milliseconds; 0 for a cart never changed.
    pub updated_at_ms: u64,
    /// True when every price was confirmed with the catalog while answering; false when the
    /// catalog could not be asked and the prices are the ones stored at the last confirmation.
    pub prices_current: bool,
    /// Products dropped while answering because the catalog no longer has them.
    #[serde(default)]
    pub removed: Vec<Uuid>,
}

/// One product in a cart. Its sku, name and price are the catalog's, never the caller's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CartLine {
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    pub unit_price: Money,
    pub quantity: u32,
    /// `unit_price` times `quantity`.
    pub line_total: Money,
}

/// `PUT /v1/cart/items/{product_id}`: the quantity the line should have,
/// [`crate::MIN_QUANTITY`] to [`crate::MAX_QUANTITY`]. Any integer parses, so that a quantity
/// out of range is refused by [`SetQuantity::validate`] with a detail naming it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuantity {
    /// 1 to 99.
    #[schema(minimum = 1, maximum = 99)]
    #[serde(deserialize_with = "brigade_chassis::openapi::whole::number")]
    pub quantity: i64,
}
