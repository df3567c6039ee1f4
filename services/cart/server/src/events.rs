//! What the cart reacts to: orders' `OrderConfirmed`, which takes the ordered lines out of the
//! shopper's cart. Orders does not call the cart once an order is confirmed (so a checkout
//! confirms while the cart is down); the cart catches up from the event instead.
//!
//! The chassis delivers each event at least once and applies it once in effect: it records the
//! event's sequence number in the handler's transaction, so a repeated delivery finds it applied
//! and does nothing. The handler only has to write through that transaction.

use std::convert::Infallible;

use brigade_chassis::db::Tx;
use brigade_chassis::events::{Envelope, Handle, Handled, HandlerError, Subscription};
use orders_api::events::OrderConfirmed;
use uuid::Uuid;

use crate::{lines, store};

/// Events from the orders service: a confirmed order empties the cart of what it bought.
/// (Placed orders may still fail, and cancelled ones bought nothing: both are skipped.)
pub fn orders() -> Subscription {
    Subscription::new(orders_api::events::SOURCE).on::<OrderConfirmed, _>(TakeOrderedLines)
}

/// Takes a confirmed order's lines out of its buyer's cart ([`lines::take_ordered`]): items the
/// shopper added or changed after checking out (after the cart version the order carries) are
/// kept. A buyer without a cart, or whose cart no longer holds the products, is fine: nothing
/// changes.
#[derive(Debug, Clone, Copy)]
pub struct TakeOrderedLines;

impl Handle<OrderConfirmed> for TakeOrderedLines {
    async fn handle(&self, tx: &mut Tx, event: OrderConfirmed, _envelope: &Envelope) -> Handled {
        let ordered: Vec<(Uuid, u32)> = event
            .lines
            .iter()
            .map(|l| (l.product_id, l.quantity))
            .collect();
        // A version beyond i64 cannot be one of this cart's: treat it as unknown.
        let priced_at = event.cart_version.and_then(|v| i64::try_from(v).ok());
        let edited = store::change_in(tx, event.user_id, |lines, _| {
            lines::take_ordered(lines, &ordered, priced_at);
            Ok::<_, Infallible>(())
        })
        .await
        .map_err(HandlerError::failed)?;
        let Ok(edited) = edited;
        tracing::debug!(
            order = %event.order_id,
            user = %event.user_id,
            changed = edited.changed,
            "took a confirmed order's lines out of the cart"
        );
        Ok(())
    }
}
