//! What the service reacts to, one [`Subscription`] per producer: users' `UserRegistered` (who
//! the shoppers are), orders' `OrderConfirmed` and `OrderCancelled`, payments'
//! `PaymentRefunded`, and shipping's `ShipmentCreated`. Each order, refund or shipment becomes
//! one message.
//!
//! The chassis delivers each event at least once and applies it once in effect (it records the
//! event's sequence number in the handler's transaction); a message also names the fact it tells
//! (`origin`, unique), so the same fact announced twice is written once all the same.

use brigade_chassis::db::Tx;
use brigade_chassis::events::{Envelope, Event, Handle, Handled, HandlerError, Subscription};
use notifications_api::Delivery;
use orders_api::events::{OrderCancelled, OrderConfirmed};
use payments_api::events::PaymentRefunded;
use shipping_api::events::ShipmentCreated;
use users_api::events::UserRegistered;
use uuid::Uuid;

use crate::compose::{self, Composed, RenderError};
use crate::store;

/// Writes each event's message, with its first delivery status: `pending` when an SMTP server
/// will send it, `stored` when the mailbox is the delivery.
#[derive(Debug, Clone, Copy)]
pub struct Write {
    pub delivery: Delivery,
}

/// Users' events: a new shopper.
pub fn users(write: Write) -> Subscription {
    Subscription::new(users_api::events::SOURCE).on::<UserRegistered, _>(write)
}

/// Orders' events: a confirmed or cancelled order, each a message to its buyer.
pub fn orders(write: Write) -> Subscription {
    Subscription::new(orders_api::events::SOURCE)
        .on::<OrderConfirmed, _>(write)
        .on::<OrderCancelled, _>(write)
}

/// Payments' events: a refund, a message to the buyer of the refunded order.
pub fn payments(write: Write) -> Subscription {
    Subscription::new(payments_api::events::SOURCE).on::<PaymentRefunded, _>(write)
}

/// Shipping's events: an order's shipment, a message with its tracking number.
pub fn shipping(write: Write) -> Subscription {
    Subscription::new(shipping_api::events::SOURCE).on::<ShipmentCreated, _>(write)
}

impl Handle<UserRegistered> for Write {
    async fn handle(&self, tx: &mut Tx, event: UserRegistered, _: &Envelope) -> Handled {
        store::record_user(tx.conn(), &event)
            .await
            .map_err(HandlerError::failed)
    }
}

/// An order's event that writes its buyer a message: the order, its buyer, and the message.
trait OrderMessage: Event {
    fn message(&self) -> (Uuid, Uuid, Result<Composed, RenderError>);
}

impl OrderMessage for OrderConfirmed {
    fn message(&self) -> (Uuid, Uuid, Result<Composed, RenderError>) {
        (self.order_id, self.user_id, compose::order_confirmed(self))
    }
}

impl OrderMessage for OrderCancelled {
    fn message(&self) -> (Uuid, Uuid, Result<Composed, RenderError>) {
        (self.order_id, self.user_id, compose::order_cancelled(self))
    }
}

/// One shipment per order: the order is the fact the message tells.
impl OrderMessage for ShipmentCreated {
    fn message(&self) -> (Uuid, Uuid, Result<Composed, RenderError>) {
        let (order, user) = (self.order_id, self.user_id);
        let message = compose::shipment_created(user, order, order, &self.tracking_number);
        (order, user, message)
    }
}

impl<E: OrderMessage> Handle<E> for Write {
    async fn handle(&self, tx: &mut Tx, event: E, _: &Envelope) -> Handled {
        let (order_id, user_id, message) = event.message();
        self.order(tx, order_id, user_id, message).await
    }
}

impl Handle<PaymentRefunded> for Write {
    async fn handle(&self, tx: &mut Tx, event: PaymentRefunded, _: &Envelope) -> Handled {
        let owner = store::record_refund(tx.conn(), &event)
            .await
            .map_err(HandlerError::failed)?;
        match owner {
            Some(user_id) => {
                self.write(tx, compose::payment_refunded(user_id, &event))
                    .await
            }
            // Written when the order's own event says whose it is.
            None => Ok(()),
        }
    }
}

impl Write {
    /// An order's message, after remembering whose order it is (and writing the refunds that
    /// waited for that).
    async fn order(
        &self,
        tx: &mut Tx,
        order_id: Uuid,
        user_id: Uuid,
        message: Result<Composed, RenderError>,
    ) -> Handled {
        let waiting = store::record_owner(tx.conn(), order_id, user_id)
            .await
            .map_err(HandlerError::failed)?;
        for refund in &waiting {
            self.write(tx, compose::payment_refunded(user_id, refund))
                .await?;
        }
        self.write(tx, message).await
    }

    /// Writes one message in the event's transaction.
    pub async fn write(&self, tx: &mut Tx, message: Result<Composed, RenderError>) -> Handled {
        let message = message.map_err(HandlerError::failed)?;
        let written = store::write_message(tx.conn(), &message, self.delivery)
            .await
            .map_err(HandlerError::failed)?;
        tracing::debug!(
            user = %message.user_id,
            kind = message.kind.as_str(),
            written,
            "wrote a message"
        );
        Ok(())
    }
}
