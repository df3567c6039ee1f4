//! What orders reacts to: payments' `PaymentRefunded`. Money given back for an order belongs in
//! the order's history, whoever gave it back: the saga's own compensation (confirmed by payments
//! here), or a refund made outside any checkout (support refunding a confirmed order through
//! payments). The brief's promise holds either way: every capture belongs to a confirmed order
//! or has been refunded, and the order's history explains which.
//!
//! The chassis applies each event once in effect: it records the event's sequence number in the
//! handler's transaction, so the history row and that record commit together.

use brigade_chassis::db::{Query, Tx};
use brigade_chassis::events::{Envelope, Handle, Handled, HandlerError, Subscription};
use payments_api::events::PaymentRefunded;

/// Events from the payments service: a refund is recorded in its order's history.
pub fn payments() -> Subscription {
    Subscription::new(payments_api::events::SOURCE).on::<PaymentRefunded, _>(RecordRefund)
}

/// Appends `refund / refunded` to the order's history. A refund of an order this service does
/// not know (a charge made straight through payments' API) has no history to join: skipped.
#[derive(Debug, Clone, Copy)]
pub struct RecordRefund;

impl Handle<PaymentRefunded> for RecordRefund {
    async fn handle(&self, tx: &mut Tx, event: PaymentRefunded, _envelope: &Envelope) -> Handled {
        let order = event.order_id.to_string();
        let now_ms = brigade_chassis::time::unix_ms() as i64;
        // Touching the order's row first locks it (on PostgreSQL) against the saga's own
        // history writes, which lock it the same way, so the two never take one number.
        let known = Query::new("UPDATE orders SET updated_at_ms = ? WHERE id = ?")
            .bind(now_ms)
            .bind(&order)
            .execute(tx.conn())
            .await
            .map_err(HandlerError::failed)?;
        if known == 0 {
            tracing::debug!(order = %event.order_id, "a refund of an order this service does not know");
            return Ok(());
        }
        let detail = format!(
            "charge {} refunded: refund {} of {} {} (payments)",
            event.charge_id, event.refund_id, event.amount.amount_minor, event.amount.currency
        );
        Query::new(
            "INSERT INTO order_steps (order_id, seq, step, outcome, detail, at_ms) \
             SELECT ?, COALESCE(MAX(seq), 0) + 1, 'refund', 'refunded', ?, ? \
             FROM order_steps WHERE order_id = ?",
        )
        .bind(&order)
        .bind(&detail)
        .bind(now_ms)
        .bind(&order)
        .execute(tx.conn())
        .await
        .map_err(HandlerError::failed)?;
        Ok(())
    }
}
