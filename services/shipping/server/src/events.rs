//! What shipping reacts to: orders' `OrderConfirmed`, which makes the order's shipment (when
//! the order has a destination: an order placed without an address has nothing to ship).
//!
//! The chassis delivers each event at least once and applies it once in effect: it records the
//! event's sequence number in the handler's transaction. The shipments table's key (the order
//! id) makes even a replayed event change nothing, so a confirmed order gets exactly one
//! shipment and one `ShipmentCreated`. The event is relayed at the relay's next look (the
//! handler cannot wake it after a commit the chassis makes).

use brigade_chassis::db::Tx;
use brigade_chassis::events::{Envelope, Handle, Handled, HandlerError, Outbox, Subscription};
use orders_api::events::OrderConfirmed;
use shipping_api::{tracking_number, Shipment, ShipmentStatus};

use crate::rates;
use crate::store::{self, Made};

/// Events from the orders service: a confirmed order gets its shipment.
pub fn orders(outbox: Outbox) -> Subscription {
    Subscription::new(orders_api::events::SOURCE).on::<OrderConfirmed, _>(ShipOrder { outbox })
}

/// Makes a confirmed order's shipment.
#[derive(Debug, Clone)]
pub struct ShipOrder {
    /// Where the shipment announces itself.
    pub outbox: Outbox,
}

impl Handle<OrderConfirmed> for ShipOrder {
    async fn handle(&self, tx: &mut Tx, event: OrderConfirmed, _envelope: &Envelope) -> Handled {
        let Some(country) = event.shipping_country else {
            tracing::debug!(order = %event.order_id, "a confirmed order without a destination");
            return Ok(());
        };
        // Orders quoted this country at checkout; one the table no longer has can never ship,
        // so the event is parked with the reason rather than retried.
        let zone = rates::zone_of(&country).ok_or_else(|| {
            HandlerError::Permanent(format!(
                "order {} ships to {country}, a country the shop does not ship to",
                event.order_id
            ))
        })?;
        let rate = rates::rate(zone);
        let now_ms = brigade_chassis::time::unix_ms();
        let shipment = Shipment {
            order_id: event.order_id,
            user_id: event.user_id,
            status: ShipmentStatus::Created,
            tracking_number: tracking_number(event.order_id),
            carrier: rate.carrier.to_owned(),
            country,
            estimated_delivery: rates::delivery_date(now_ms, rate.days),
            created_at_ms: now_ms,
        };
        let made = store::make_in(tx, &self.outbox, &shipment)
            .await
            .map_err(HandlerError::failed)?;
        if made == Made::Before {
            tracing::debug!(order = %event.order_id, "the order has its shipment already");
        }
        Ok(())
    }
}
