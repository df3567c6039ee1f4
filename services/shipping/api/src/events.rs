//! The events the shipping service publishes (through its outbox). Subject: the order id.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The service that publishes these events.
pub const SOURCE: &str = "shipping";

/// A confirmed order got its shipment. Published once per order, in the transaction that made
/// the shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentCreated {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub tracking_number: String,
    pub carrier: String,
    /// `YYYY-MM-DD`.
    pub estimated_delivery: String,
}

brigade_chassis::declare_events!(
    source: SOURCE,
    subject: order_id,
    ShipmentCreated: 1,
);
