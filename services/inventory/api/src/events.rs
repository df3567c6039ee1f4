//! The events the inventory publishes (through its outbox). Subject: the SKU.

use serde::{Deserialize, Serialize};

/// The service that publishes these events.
pub const SOURCE: &str = "inventory";

/// A SKU's numbers changed: its counters as the change left them (a snapshot, so that a consumer
/// keeping stock levels needs neither the previous event nor a call back).
///
/// Published in the transaction of every change of the numbers: the SKU stocked by the sample
/// data or set through `PUT /v1/stock/{sku}` (when the total really changes), units held by a
/// reservation (one event per SKU of the reservation), sold by a commit, given back by a
/// release, by the expiry sweep, or by the release that follows an `OrderCancelled`. A repeated
/// request that changes nothing publishes nothing. Events of one SKU are delivered in the order
/// of its changes, so the last one delivered is the SKU as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockChanged {
    pub sku: String,
    /// Units the shop has had in total (sold ones included).
    pub stock: u64,
    /// Units held by reservations, not yet sold.
    pub held: u64,
    /// Units sold.
    pub committed: u64,
    /// `stock - held - committed`: what a new reservation can take.
    pub available: u64,
}

brigade_chassis::declare_events!(
    source: SOURCE,
    subject: sku,
    StockChanged: 1,
);

impl From<crate::StockLevel> for StockChanged {
    fn from(level: crate::StockLevel) -> StockChanged {
        StockChanged {
            sku: level.sku,
            stock: level.stock,
            held: level.held,
            committed: level.committed,
            available: level.available,
        }
    }
}
