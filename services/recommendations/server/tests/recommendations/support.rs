//! What the tests share: products and orders as their producers announce them, a migrated store,
//! and a model fed through the chassis' inbox exactly as the running service feeds it.

use std::collections::HashMap;

use brigade_chassis::db::{migrate, Db};
use brigade_chassis::events::{ApplyOutcome, Envelope, Event, Inbox, Subscription};
use catalog_api::events::ProductChanged;
use catalog_api::{Money, Product};
use orders_api::events::OrderConfirmed;
use orders_api::OrderLine;
use recommendations::{Store, MIGRATIONS};
use recommendations_api::{Reason, Recommendations};
use uuid::Uuid;

/// Product number `n`'s id.
pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x5ec0_0000_0000_4000_8000_0000_0000_0000 + n)
}

/// Product number `n`, priced `amount_minor` EUR.
pub fn product(n: u128, amount_minor: i64) -> Product {
    Product {
        id: id(n),
        sku: format!("REC-{n:04}"),
        description: "Made by a test.".into(),
        image_url: format!("/images/rec-{n}.jpg"),
        ..catalog_api::testing::product(n, amount_minor, "EUR")
    }
}

/// A confirmed order of `user` with a line per `(product number, quantity)`.
pub fn order(user: Uuid, lines: &[(u128, u32)]) -> OrderConfirmed {
    let lines: Vec<OrderLine> = lines
        .iter()
        .map(|&(n, quantity)| {
            let unit_price = Money {
                amount_minor: 100,
                currency: "EUR".into(),
            };
            OrderLine {
                product_id: id(n),
                sku: format!("REC-{n:04}"),
                name: format!("Product {n}"),
                line_total: Money {
                    amount_minor: 100 * i64::from(quantity),
                    currency: "EUR".into(),
                },
                unit_price,
                quantity,
            }
        })
        .collect();
    let amount: i64 = lines.iter().map(|l| l.line_total.amount_minor).sum();
    OrderConfirmed {
        order_id: Uuid::new_v4(),
        user_id: user,
        lines,
        total: Money {
            amount_minor: amount,
            currency: "EUR".into(),
        },
        charge_id: Some(Uuid::new_v4()),
        shipping_country: None,
        cart_version: None,
    }
}

/// `db` with the service's schema (the model and the chassis' inbox).
pub async fn migrated(db: Db) -> Store {
    migrate(&db, MIGRATIONS).await.unwrap();
    Store::new(db)
}

/// A migrated store fed through the inbox with the service's own subscriptions, numbering each
/// subject's events as their producer would.
pub struct Model {
    pub store: Store,
    pub inbox: Inbox,
    pub orders: Subscription,
    pub catalog: Subscription,
    seqs: HashMap<String, i64>,
}

impl Model {
    pub async fn new(db: Db) -> Model {
        let store = migrated(db.clone()).await;
        Model {
            store,
            inbox: Inbox::new(db),
            orders: recommendations::events::orders(),
            catalog: recommendations::events::catalog(),
            seqs: HashMap::new(),
        }
    }

    /// The next event of `event`'s subject, in an envelope.
    pub fn envelope<E: Event>(&mut self, event: &E) -> Envelope {
        let seq = self.seqs.entry(event.subject()).or_default();
        *seq += 1;
        Envelope::of(event, *seq).unwrap()
    }

    /// Delivers `envelope` to the subscription of its source.
    pub async fn deliver(&self, envelope: &Envelope) -> ApplyOutcome {
        let subscription = if envelope.source == self.orders.source() {
            &self.orders
        } else {
            &self.catalog
        };
        self.inbox
            .apply(subscription, envelope, None)
            .await
            .unwrap()
    }

    /// The catalog announces products `ns` (priced 100 × n).
    pub async fn announce(&mut self, ns: &[u128]) {
        for &n in ns {
            self.announce_product(&product(n, 100 * n as i64)).await;
        }
    }

    pub async fn announce_product(&mut self, product: &Product) {
        let envelope = self.envelope(&ProductChanged {
            product: product.clone(),
        });
        assert_eq!(self.deliver(&envelope).await, ApplyOutcome::Applied);
    }

    /// Orders confirms `user`'s order of `(product number, quantity)` lines.
    pub async fn confirm(&mut self, user: Uuid, lines: &[(u128, u32)]) {
        let envelope = self.envelope(&order(user, lines));
        assert_eq!(self.deliver(&envelope).await, ApplyOutcome::Applied);
    }

    pub async fn for_product(&self, n: u128, limit: u32) -> Recommendations {
        self.store.for_product(id(n), limit).await.unwrap()
    }

    pub async fn for_user(&self, user: Uuid, limit: u32) -> Recommendations {
        self.store.for_user(user, limit).await.unwrap()
    }
}

/// The answer as `(product number, reason, score)`, best first.
pub fn ranked(answer: &Recommendations) -> Vec<(u128, Reason, u64)> {
    answer
        .items
        .iter()
        .map(|item| {
            (
                item.product_id.as_u128() - id(0).as_u128(),
                item.reason,
                item.score,
            )
        })
        .collect()
}
