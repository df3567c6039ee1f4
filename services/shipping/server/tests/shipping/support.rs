//! What the tests share: a migrated store, confirmed orders as orders announces them, and an
//! inbox that feeds them to the service's own subscription.

use brigade_chassis::db::{migrate, Db};
use brigade_chassis::events::{stored_events, ApplyOutcome, Envelope, Inbox, Outbox};
use catalog_api::Money;
use orders_api::events::OrderConfirmed;
use orders_api::OrderLine;
use shipping::{Store, MIGRATIONS};
use shipping_api::events::ShipmentCreated;
use uuid::Uuid;

/// `db` with the service's schema.
pub async fn migrated(db: Db) -> Store {
    migrate(&db, MIGRATIONS).await.unwrap();
    Store {
        db,
        outbox: Outbox::new(),
    }
}

/// A confirmed order of one line, shipping to `country` (none: no address).
pub fn confirmed(country: Option<&str>) -> OrderConfirmed {
    let price = Money {
        amount_minor: 1200,
        currency: "EUR".into(),
    };
    OrderConfirmed {
        order_id: Uuid::new_v4(),
        user_id: Uuid::new_v4(),
        lines: vec![OrderLine {
            product_id: Uuid::new_v4(),
            sku: "KIT-0001".into(),
            name: "Kettle".into(),
            unit_price: price.clone(),
            quantity: 1,
            line_total: price.clone(),
        }],
        total: price,
        charge_id: Some(Uuid::new_v4()),
        shipping_country: country.map(str::to_owned),
        cart_version: None,
    }
}

/// Orders' events delivered to a store through the chassis' inbox, as the running service
/// applies them.
pub struct Feed {
    pub store: Store,
    inbox: Inbox,
    orders: brigade_chassis::events::Subscription,
}

impl Feed {
    pub async fn new(db: Db) -> Feed {
        let store = migrated(db.clone()).await;
        Feed {
            orders: shipping::events::orders(store.outbox.clone()),
            inbox: Inbox::new(db),
            store,
        }
    }

    /// Delivers `envelope` to the orders subscription.
    pub async fn deliver(&self, envelope: &Envelope) -> ApplyOutcome {
        self.inbox
            .apply(&self.orders, envelope, None)
            .await
            .unwrap()
    }

    /// The `ShipmentCreated` events in the outbox, oldest first, checked to be about their
    /// subject.
    pub async fn announced(&self) -> Vec<ShipmentCreated> {
        stored_events(&self.store.db)
            .await
            .unwrap()
            .iter()
            .map(|envelope| {
                let event = envelope.decode::<ShipmentCreated>().unwrap();
                assert_eq!(envelope.subject, event.order_id.to_string());
                assert_eq!(envelope.source, "shipping");
                event
            })
            .collect()
    }
}
