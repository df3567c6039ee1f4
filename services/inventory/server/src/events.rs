//! What the inventory reacts to: orders' `OrderCancelled`, which gives a cancelled order's held
//! units back at once, instead of leaving them held until the reservation's time runs out.
//!
//! The saga usually releases the reservation itself (`POST …/release`) before it cancels; the
//! event is what covers the rest: an order cancelled by a path that did not release, or a
//! release call that was lost. Both paths run the same store code ([`store::release_in`]), which
//! releases only a reservation that is still held, so whichever comes second changes nothing.
//!
//! The chassis delivers each event at least once and applies it once in effect: it records the
//! event's sequence number in the handler's transaction, so a repeated delivery finds it applied
//! and does nothing. The handler writes only through that transaction, the `StockChanged` events
//! of the release included; they are relayed at the relay's next look (the handler cannot wake
//! it after a commit that the chassis makes).

use brigade_chassis::db::Tx;
use brigade_chassis::events::{Envelope, Handle, Handled, HandlerError, Outbox, Subscription};
use orders_api::events::OrderCancelled;

use crate::store::{self, ReleaseError, Released};

/// Events from the orders service: a cancelled order releases its reservation. (Placed and
/// confirmed orders are skipped: the saga reserves and commits through the API, synchronously.)
pub fn orders(outbox: Outbox) -> Subscription {
    Subscription::new(orders_api::events::SOURCE)
        .on::<OrderCancelled, _>(ReleaseCancelledOrder { outbox })
}

/// Releases a cancelled order's reservation if it is still held. A reservation already
/// released or expired, a committed one (its units are sold), or none at all (the order was
/// cancelled before it reserved) is left as it is.
#[derive(Debug, Clone)]
pub struct ReleaseCancelledOrder {
    /// Where the release announces the SKUs' new counters.
    pub outbox: Outbox,
}

impl Handle<OrderCancelled> for ReleaseCancelledOrder {
    async fn handle(&self, tx: &mut Tx, event: OrderCancelled, _envelope: &Envelope) -> Handled {
        // Wall-clock time, as for a release through the API: reservation times are shared
        // with other instances and callers.
        let now_ms = brigade_chassis::time::unix_ms();
        let order = event.order_id;
        match store::release_in(tx, &self.outbox, order, now_ms).await {
            Ok(Released::Now(reservation)) => tracing::info!(
                %order,
                lines = reservation.lines.len(),
                "released the reservation of a cancelled order"
            ),
            Ok(Released::Before(reservation)) => tracing::debug!(
                %order,
                status = %reservation.status,
                "a cancelled order's reservation held nothing any more"
            ),
            Err(ReleaseError::NotFound) => {
                tracing::debug!(%order, "a cancelled order had no reservation");
            }
            Err(ReleaseError::AlreadyCommitted(_)) => tracing::warn!(
                %order,
                "a cancelled order's reservation is committed: its units stay sold"
            ),
            Err(ReleaseError::Store(error)) => return Err(HandlerError::failed(error)),
        }
        Ok(())
    }
}
