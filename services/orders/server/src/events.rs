//! What orders reacts to, each recorded in the order's history:
//!
//! - payments' `PaymentRefunded`. Money given back for an order belongs in the order's history,
//!   whoever gave it back: the saga's own compensation (confirmed by payments here), or a refund
//!   made outside any checkout (support refunding a confirmed order through payments). The
//!   brief's promise holds either way: every capture belongs to a confirmed order or has been
//!   refunded, and the order's history explains which.
//! - shipping's `ShipmentCreated`: the order shows its tracking number, and its history says it
//!   shipped.
//!
//! The chassis applies each event once in effect: it records the event's sequence number in the
//! handler's transaction, so the history row and that record commit together.

use brigade_chassis::db::{Query, Tx};
use brigade_chassis::events::{Envelope, Handle, Handled, HandlerError, Subscription};
use payments_api::events::PaymentRefunded;
use shipping_api::events::ShipmentCreated;
use uuid::Uuid;

use crate::store::insert_step;

/// Events from the payments service: a refund is recorded in its order's history.
pub fn payments() -> Subscription {
    Subscription::new(payments_api::events::SOURCE).on::<PaymentRefunded, _>(RecordRefund)
}

/// Events from the shipping service: a shipment gives its order a tracking number.
pub fn shipping() -> Subscription {
    Subscription::new(shipping_api::events::SOURCE).on::<ShipmentCreated, _>(RecordShipment)
}

/// Appends `refund / refunded` to the order's history. A refund of an order this service does
/// not know (a charge made straight through payments' API) has no history to join: skipped.
#[derive(Debug, Clone, Copy)]
pub struct RecordRefund;

impl Handle<PaymentRefunded> for RecordRefund {
    async fn handle(&self, tx: &mut Tx, event: PaymentRefunded, _envelope: &Envelope) -> Handled {
        let touch = Query::new("UPDATE orders SET updated_at_ms = ? WHERE id = ?");
        let detail = format!(
            "charge {} refunded: refund {} of {} {} (payments)",
            event.charge_id, event.refund_id, event.amount.amount_minor, event.amount.currency
        );
        let entry = ("refund", "refunded", detail);
        if !record(tx, touch, event.order_id, entry).await? {
            tracing::debug!(order = %event.order_id, "a refund of an order this service does not know");
        }
        Ok(())
    }
}

/// Keeps the order's tracking number and appends `ship / shipped` to its history. An order
/// this service does not know, or one that has its tracking number, is left as it is.
#[derive(Debug, Clone, Copy)]
pub struct RecordShipment;

impl Handle<ShipmentCreated> for RecordShipment {
    async fn handle(&self, tx: &mut Tx, event: ShipmentCreated, _envelope: &Envelope) -> Handled {
        let keep = Query::new(
            "UPDATE orders SET tracking_number = ?, updated_at_ms = ? \
             WHERE id = ? AND tracking_number IS NULL",
        )
        .bind(event.tracking_number.clone());
        let detail = format!(
            "shipped with {}, tracking number {}, delivery expected {} (shipping)",
            event.carrier, event.tracking_number, event.estimated_delivery
        );
        if !record(tx, keep, event.order_id, ("ship", "shipped", detail)).await? {
            tracing::debug!(order = %event.order_id, "a shipment of an order unknown or recorded");
        }
        Ok(())
    }
}

/// Runs `update` (an `UPDATE orders` whose last two parameters, bound here, are the time and
/// the order id) and, when it changed the order, appends `(step, outcome, detail)` to its
/// history. False when it changed nothing. Updating the order's row first locks it (on
/// PostgreSQL) against the saga's own history writes, which lock it the same way, so the two
/// never take one number.
async fn record(
    tx: &mut Tx,
    update: Query,
    order_id: Uuid,
    (step, outcome, detail): (&str, &str, String),
) -> Result<bool, HandlerError> {
    let now_ms = brigade_chassis::time::unix_ms() as i64;
    let changed = update
        .bind(now_ms)
        .bind(order_id)
        .execute(tx.conn())
        .await
        .map_err(HandlerError::failed)?;
    if changed == 0 {
        return Ok(false);
    }
    insert_step(tx, order_id, step, outcome, &detail, now_ms)
        .await
        .map_err(HandlerError::failed)?;
    Ok(true)
}
