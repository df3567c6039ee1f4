//! What goes over the wire. Field names are the JSON names; changing one breaks callers.

use catalog_api::Money;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One line to ship: a SKU, how many, and what one unit weighs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteItem {
    /// The catalog's SKU (1 to 64 ASCII letters, digits, `-`, `_` or `.`).
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub sku: String,
    /// 1 to 1000.
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: u32,
    /// Grams per unit, 1 to 50000; 500 when not given (the catalog keeps no weights).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 50000)]
    pub unit_weight_grams: Option<u32>,
}

/// `POST /v1/quotes` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequest {
    /// ISO 3166-1 alpha-2, upper case (`FR`, `DE`, `US`).
    #[schema(pattern = "^[A-Z]{2}$")]
    pub country: String,
    /// 1 to 100 lines, one per SKU.
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<QuoteItem>,
}

/// Where a country is, for shipping: what it costs and how long it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Zone {
    /// France, where the shop ships from.
    Domestic,
    /// The other member states of the European Union.
    EuropeanUnion,
    /// The rest of Europe the shop ships to (the United Kingdom, Switzerland, Norway, …).
    Europe,
    /// Everywhere else the shop ships to.
    World,
}

/// A shipping quote: what shipping the items to the country costs, with whom, and when they
/// arrive if sent today. Deterministic: the same request on the same day gets the same quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Quote {
    pub country: String,
    pub zone: Zone,
    pub carrier: String,
    /// In minor units of the catalog's currency (EUR).
    pub cost: Money,
    /// The items' total weight in grams, as the cost counted it.
    pub weight_grams: u64,
    /// Calendar days from today to the estimated delivery.
    pub delivery_days: u32,
    /// `YYYY-MM-DD` (UTC).
    pub estimated_delivery: String,
}

/// The answers of `POST /v1/quotes` that shipping gives, which the gateway in front of it
/// documents alike.
#[derive(utoipa::IntoResponses)]
pub enum QuoteAnswers {
    #[response(status = 200, description = "The quote")]
    Quoted(Quote),
    #[response(
        status = 422,
        description = "unknown-country (`country`): the shop does not ship there; or invalid-body"
    )]
    Refused(brigade_chassis::Problem),
}

/// Where a shipment is. Only `created` exists so far: nothing tracks a parcel after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    Created,
}

impl ShipmentStatus {
    /// The name used on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            ShipmentStatus::Created => "created",
        }
    }

    pub fn parse(name: &str) -> Option<ShipmentStatus> {
        (name == "created").then_some(ShipmentStatus::Created)
    }
}

/// `GET /v1/shipments/{order_id}`: one order's shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Shipment {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub status: ShipmentStatus,
    pub tracking_number: String,
    pub carrier: String,
    pub country: String,
    /// `YYYY-MM-DD` (UTC).
    pub estimated_delivery: String,
    /// Unix milliseconds.
    pub created_at_ms: u64,
}
