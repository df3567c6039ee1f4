//! What the service reacts to: orders' `OrderConfirmed` (what was bought, and with what) and the
//! catalog's `ProductChanged` (what a product is called and costs now). One [`Subscription`] per
//! producing service; the chassis delivers each event at least once and applies each once in
//! effect (it records the event's sequence number in the handler's transaction), so the
//! handlers count without checking for repeats themselves.

use brigade_chassis::db::Tx;
use brigade_chassis::events::{Envelope, Handle, Handled, HandlerError, Subscription};
use catalog_api::events::ProductChanged;
use catalog_api::Product;
use orders_api::events::OrderConfirmed;

use crate::store;

/// Events from the orders service: confirmed orders feed popularity, co-purchases and what each
/// user bought. (Placed and cancelled orders were never bought, so they are skipped.)
pub fn orders() -> Subscription {
    Subscription::new(orders_api::events::SOURCE).on::<OrderConfirmed, _>(CountOrder)
}

/// Events from the catalog: the facts a recommendation shows.
pub fn catalog() -> Subscription {
    Subscription::new(catalog_api::events::SOURCE).on::<ProductChanged, _>(KeepProductFacts)
}

/// Counts a confirmed order into the model.
#[derive(Debug, Clone, Copy)]
pub struct CountOrder;

impl Handle<OrderConfirmed> for CountOrder {
    async fn handle(&self, tx: &mut Tx, event: OrderConfirmed, _envelope: &Envelope) -> Handled {
        store::record_order(tx.conn(), &event)
            .await
            .map_err(HandlerError::failed)
    }
}

/// Keeps the latest facts of a product. Events of one product arrive in the order the catalog
/// made them, so the latest applied is the catalog's latest.
#[derive(Debug, Clone, Copy)]
pub struct KeepProductFacts;

impl Handle<ProductChanged> for KeepProductFacts {
    async fn handle(&self, tx: &mut Tx, event: ProductChanged, _envelope: &Envelope) -> Handled {
        check_facts(&event.product).map_err(HandlerError::Permanent)?;
        store::record_product(tx.conn(), &event.product)
            .await
            .map_err(HandlerError::failed)
    }
}

/// Facts that could never be stored (the store's CHECKs would refuse them on every attempt) park
/// the event at once with a reason, rather than after a round of retries with a SQL error.
fn check_facts(product: &Product) -> Result<(), String> {
    if product.price.amount_minor < 0 {
        return Err(format!(
            "product {} has a negative price ({})",
            product.id, product.price.amount_minor
        ));
    }
    if product.price.currency.len() != 3 {
        return Err(format!(
            "product {} is priced in `{}`, which is not an ISO 4217 code",
            product.id, product.price.currency
        ));
    }
    Ok(())
}
