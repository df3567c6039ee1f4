//! The events payments publishes (through its outbox). Subject: the order id, so that one
//! order's payment events (a capture, then perhaps its refund) are delivered in order.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::DeclineCode;

/// The service that publishes these events.
pub const SOURCE: &str = "payments";

/// An amount of money: the same JSON as the other services' prices and totals
/// (`{"amount_minor": 1999, "currency": "EUR"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    /// In the currency's minor unit.
    pub amount_minor: i64,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
}

/// Money was taken for an order: a charge was captured, at once (an approved card) or when a
/// pending charge settled. Published once per charge, with its capture entry in the ledger; a
/// repeated charge request publishes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentCaptured {
    pub charge_id: Uuid,
    pub order_id: Uuid,
    pub amount: Amount,
}

/// A charge for an order was declined: nothing was taken. Published once per declined charge.
/// A processor failure records no charge and publishes nothing (the same request may be tried
/// again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentFailed {
    pub order_id: Uuid,
    /// The declined charge. Every failure this version publishes has one; the field is optional
    /// so that failures without a recorded charge need no new schema version.
    pub charge_id: Option<Uuid>,
    pub decline_code: DeclineCode,
}

/// A captured charge was refunded in full. Published once per refund, with its refund entry in
/// the ledger; refunding a refunded charge again publishes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRefunded {
    /// The refund: the id of its entry in the ledger (`GET /v1/ledger`).
    pub refund_id: Uuid,
    pub charge_id: Uuid,
    pub order_id: Uuid,
    pub amount: Amount,
}

brigade_chassis::declare_events!(
    source: SOURCE,
    subject: order_id,
    PaymentCaptured: 1,
    PaymentFailed: 1,
    PaymentRefunded: 1,
);
