//! The events the orders service publishes (through its outbox). Subject: the order id.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{CancelReason, Money, OrderLine};

/// The service that publishes these events.
pub const SOURCE: &str = "orders";

/// A checkout was accepted: the order exists as PENDING; nothing is reserved or charged yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub lines: Vec<OrderLine>,
    pub total: Money,
}

/// The order is paid and its stock committed: it will ship.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderConfirmed {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub charge_id: Option<Uuid>,
    /// Where the order ships (ISO 3166-1 alpha-2), when the checkout gave an address: shipping
    /// makes its shipment from this. Absent on orders placed without an address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_country: Option<String>,
    /// The version of the shopper's cart the order was priced from (the cart's `version` at
    /// checkout): the cart takes the ordered quantities only from lines set at this version or
    /// before, never from what the shopper set after checking out. Absent on orders placed
    /// before orders recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart_version: Option<u64>,
}

/// The order ended without shipping; whatever was reserved or charged has been (or is being)
/// given back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCancelled {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub reason: CancelReason,
    pub lines: Vec<OrderLine>,
}

brigade_chassis::declare_events!(
    source: SOURCE,
    subject: order_id,
    OrderPlaced: 1,
    OrderConfirmed: 1,
    OrderCancelled: 1,
);
