//! What the tests share: a fake of the saga's port that simulates inventory and payments
//! (idempotently, like the real ones), counts calls, injects failures and can "crash"; and
//! stores with the schema.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brigade_chassis::db::{migrate, Db};
use brigade_chassis::events::{stored_events, Envelope, Outbox};
use catalog_api::{Money, Product, ProductBatch};
use currency_api::{Conversion, Converted, Rate};
use orders::saga::{
    CartContents, CartItem, Charged, Committed, Reserved, StepError, StepFuture, Steps, StockLine,
};
use orders::store::{Created, Lease, NewOrder};
use orders::{Saga, SagaConfig, Store, MIGRATIONS};
use orders_api::{Order, OrderLine};
use shipping_api::{Quote, QuoteRequest, Zone};
use uuid::Uuid;

/// What the fake payments do on the next charge call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeScript {
    Approve,
    Decline(&'static str),
    /// A processor error: nothing recorded, the outcome of the call unknown.
    ProcessorError,
    /// Payments could not be reached at all (connection refused): nothing sent.
    Unreachable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResStatus {
    Held,
    Committed,
    Released,
}

#[derive(Debug, Default)]
pub struct World {
    pub stock: HashMap<String, u32>,
    pub reservations: HashMap<Uuid, (Vec<StockLine>, ResStatus)>,
    /// Charges by order: (charge id, status) where status is captured/declined/refunded.
    pub charges: HashMap<Uuid, (Uuid, String)>,
    pub captures: u32,
    pub refunds: u32,
    pub script: VecDeque<ChargeScript>,
    /// When set, a commit finds the reservation expired and the stock gone.
    pub expire_on_commit: bool,
    pub calls: HashMap<(&'static str, Uuid), u32>,
    pub in_flight: HashMap<Uuid, u32>,
    pub max_in_flight: u32,
    /// Each token's cart; filling one counts a new version.
    pub carts: HashMap<String, CartContents>,
    /// When set, the cart answers this many more reads, then is down (unreachable).
    pub cart_reads_left: Option<u32>,
    /// When set, the port says payments is down without a call (breaker open, no instance).
    pub payments_down: Option<String>,
    /// When set, shipping cannot be reached.
    pub shipping_down: bool,
    /// When set, the currency service cannot be reached.
    pub currency_down: bool,
    /// How many conversions the currency service was asked for.
    pub conversions: u32,
    /// The amount of each order's last charge call, in cents.
    pub charged_minor: HashMap<Uuid, i64>,
    /// "Crash": the named operation never returns, before (`false`) or after (`true`) its
    /// effect. Taken once.
    pub hang: Option<(&'static str, bool)>,
}

/// The fake port. Cheap to clone; clones share the world.
#[derive(Debug, Clone, Default)]
pub struct Fake {
    pub world: Arc<Mutex<World>>,
    pub products: Arc<Vec<Product>>,
    pub delay: Duration,
}

pub fn product(n: u32, price: i64) -> Product {
    Product {
        id: Uuid::from_u128(u128::from(n) + 1000),
        sku: format!("SKU-{n:04}"),
        category: "kitchen".into(),
        ..catalog_api::testing::product(u128::from(n), price, "EUR")
    }
}

impl Fake {
    /// Three products of 10, 20 and 30 EUR; `stock` units of each.
    pub fn new(stock: u32) -> Fake {
        let products: Vec<Product> = (1..=3).map(|n| product(n, i64::from(n) * 1000)).collect();
        let mut world = World::default();
        for p in &products {
            world.stock.insert(p.sku.clone(), stock);
        }
        Fake {
            world: Arc::new(Mutex::new(world)),
            products: Arc::new(products),
            delay: Duration::ZERO,
        }
    }

    pub fn with_delay(mut self, delay: Duration) -> Fake {
        self.delay = delay;
        self
    }

    pub fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap()
    }

    /// Makes the cart that `token` opens hold one line: `quantity` of `product_id`.
    pub fn fill_cart(&self, token: &str, product_id: Uuid, quantity: u32) {
        let line = CartItem {
            product_id,
            quantity,
        };
        let mut w = self.world();
        let version = w.carts.get(token).map_or(0, |c| c.version) + 1;
        let cart = CartContents {
            items: vec![line],
            version,
        };
        w.carts.insert(token.to_owned(), cart);
    }

    pub fn calls(&self, op: &'static str, order: Uuid) -> u32 {
        self.world().calls.get(&(op, order)).copied().unwrap_or(0)
    }

    pub fn script(&self, outcomes: &[ChargeScript]) {
        self.world().script.extend(outcomes.iter().cloned());
    }

    /// Counts the call, tracks concurrency, waits the delay, and honours a planned hang.
    async fn enter(&self, op: &'static str, order: Uuid, after_effect: bool) {
        let hang = {
            let mut w = self.world();
            if !after_effect {
                *w.calls.entry((op, order)).or_default() += 1;
                let n = w.in_flight.entry(order).or_default();
                *n += 1;
                let n = *n;
                w.max_in_flight = w.max_in_flight.max(n);
            }
            match w.hang {
                Some((hang_op, after)) if hang_op == op && after == after_effect => {
                    w.hang = None;
                    true
                }
                _ => false,
            }
        };
        if hang {
            std::future::pending::<()>().await;
        }
        if !after_effect && !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
    }

    fn leave(&self, order: Uuid) {
        if let Some(n) = self.world().in_flight.get_mut(&order) {
            *n -= 1;
        }
    }
}

fn transient(what: &str) -> StepError {
    StepError::Transient(format!("{what} failed (simulated)"))
}

/// The fake currency service's rates, in hundredths of a unit per euro: one euro is 1.50 USD
/// and 0.80 GBP.
pub const RATES: [(&str, i64); 3] = [("EUR", 100), ("USD", 150), ("GBP", 80)];

/// What the fake shipping charges for any parcel: 4.90 EUR, to the countries it knows.
pub const SHIPPING_MINOR: i64 = 490;

impl Steps for Fake {
    fn quote<'a>(&'a self, request: &'a QuoteRequest) -> StepFuture<'a, Quote> {
        Box::pin(async move {
            if self.world().shipping_down {
                return Err(transient("shipping"));
            }
            if !["FR", "DE"].contains(&request.country.as_str()) {
                return Err(StepError::Rejected {
                    code: "unknown-country".into(),
                    detail: format!("the shop does not ship to {}", request.country),
                });
            }
            Ok(Quote {
                country: request.country.clone(),
                zone: Zone::Domestic,
                carrier: "Brigade Post".into(),
                cost: Money {
                    amount_minor: SHIPPING_MINOR,
                    currency: "EUR".into(),
                },
                weight_grams: 500,
                delivery_days: 2,
                estimated_delivery: "2026-12-08".into(),
            })
        })
    }

    fn payments_unavailable(&self) -> Option<String> {
        self.world().payments_down.clone()
    }

    fn convert<'a>(&'a self, conversion: &'a Conversion) -> StepFuture<'a, Converted> {
        Box::pin(async move {
            let mut w = self.world();
            w.conversions += 1;
            if w.currency_down {
                return Err(transient("currency"));
            }
            let rate = |code: &str| RATES.iter().find(|(c, _)| *c == code).map(|(_, r)| *r);
            let (Some(from_rate), Some(to_rate)) = (rate(&conversion.from), rate(&conversion.to))
            else {
                return Err(StepError::Rejected {
                    code: "unknown-currency".into(),
                    detail: format!("no rate for {}", conversion.to),
                });
            };
            // Every fake currency has cents: the amount scales by the ratio of the rates.
            let amount = conversion.amount_minor * to_rate / from_rate;
            let parse = |units: i64| {
                format!("{}.{:02}", units / 100, units % 100)
                    .parse::<Rate>()
                    .unwrap()
            };
            Ok(Converted {
                from: Money {
                    amount_minor: conversion.amount_minor,
                    currency: conversion.from.clone(),
                },
                to: Money {
                    amount_minor: amount,
                    currency: conversion.to.clone(),
                },
                rate: parse(to_rate * 100 / from_rate).to_string(),
                from_rate: parse(from_rate),
                to_rate: parse(to_rate),
                base: "EUR".into(),
                date: "2026-12-04".into(),
            })
        })
    }

    fn cart<'a>(&'a self, token: &'a str) -> StepFuture<'a, CartContents> {
        Box::pin(async move {
            let mut w = self.world();
            match &mut w.cart_reads_left {
                Some(0) => return Err(transient("cart")),
                Some(left) => *left -= 1,
                None => {}
            }
            Ok(w.carts.get(token).cloned().unwrap_or(CartContents {
                items: Vec::new(),
                version: 0,
            }))
        })
    }

    fn products<'a>(&'a self, ids: &'a [Uuid]) -> StepFuture<'a, ProductBatch> {
        Box::pin(async move {
            let mut batch = ProductBatch {
                items: Vec::new(),
                missing: Vec::new(),
            };
            for id in ids {
                match self.products.iter().find(|p| p.id == *id) {
                    Some(p) => batch.items.push(p.clone()),
                    None => batch.missing.push(*id),
                }
            }
            Ok(batch)
        })
    }

    fn reserve<'a>(&'a self, order_id: Uuid, lines: &'a [StockLine]) -> StepFuture<'a, Reserved> {
        Box::pin(async move {
            self.enter("reserve", order_id, false).await;
            let result = {
                let mut w = self.world();
                if w.reservations.contains_key(&order_id) {
                    Reserved::Held
                } else if let Some(short) = lines
                    .iter()
                    .find(|l| w.stock.get(&l.sku).copied().unwrap_or(0) < l.quantity)
                {
                    Reserved::OutOfStock(format!("{} is short", short.sku))
                } else {
                    for l in lines {
                        *w.stock.get_mut(&l.sku).unwrap() -= l.quantity;
                    }
                    w.reservations
                        .insert(order_id, (lines.to_vec(), ResStatus::Held));
                    Reserved::Held
                }
            };
            self.enter("reserve", order_id, true).await;
            self.leave(order_id);
            Ok(result)
        })
    }

    fn charge<'a>(
        &'a self,
        order_id: Uuid,
        amount: &'a Money,
        _card: &'a str,
    ) -> StepFuture<'a, Charged> {
        Box::pin(async move {
            self.enter("charge", order_id, false).await;
            let result = {
                let mut w = self.world();
                w.charged_minor.insert(order_id, amount.amount_minor);
                if let Some((id, status)) = w.charges.get(&order_id).cloned() {
                    Ok(match status.as_str() {
                        "captured" => Charged::Captured { charge_id: id },
                        "refunded" => Charged::Refunded { charge_id: id },
                        code => Charged::Declined {
                            charge_id: id,
                            code: code.to_owned(),
                        },
                    })
                } else {
                    match w.script.pop_front().unwrap_or(ChargeScript::Approve) {
                        ChargeScript::ProcessorError => Err(transient("charge")),
                        ChargeScript::Unreachable => Ok(Charged::NotDelivered {
                            detail: "payments could not be reached (simulated)".into(),
                        }),
                        ChargeScript::Approve => {
                            let id = Uuid::new_v4();
                            w.charges.insert(order_id, (id, "captured".into()));
                            w.captures += 1;
                            Ok(Charged::Captured { charge_id: id })
                        }
                        ChargeScript::Decline(code) => {
                            let id = Uuid::new_v4();
                            w.charges.insert(order_id, (id, code.into()));
                            Ok(Charged::Declined {
                                charge_id: id,
                                code: code.into(),
                            })
                        }
                    }
                }
            };
            self.enter("charge", order_id, true).await;
            self.leave(order_id);
            result
        })
    }

    fn commit(&self, order_id: Uuid) -> StepFuture<'_, Committed> {
        Box::pin(async move {
            self.enter("commit", order_id, false).await;
            let result = {
                let mut w = self.world();
                let expire = w.expire_on_commit;
                match w.reservations.get_mut(&order_id) {
                    Some((_, status @ ResStatus::Held)) if expire => {
                        *status = ResStatus::Released;
                        Ok(Committed::Expired("the stock is gone".into()))
                    }
                    Some((_, status @ ResStatus::Held)) => {
                        *status = ResStatus::Committed;
                        Ok(Committed::Committed)
                    }
                    Some((_, ResStatus::Committed)) => Ok(Committed::Committed),
                    Some((_, ResStatus::Released)) => Ok(Committed::Expired("expired".into())),
                    None => Err(StepError::Rejected {
                        code: "not-found".into(),
                        detail: "no reservation".into(),
                    }),
                }
            };
            // An expired reservation's units go back.
            if matches!(result, Ok(Committed::Expired(_))) {
                let mut w = self.world();
                if let Some((lines, _)) = w.reservations.get(&order_id).cloned() {
                    if w.expire_on_commit {
                        for l in lines {
                            *w.stock.get_mut(&l.sku).unwrap() += l.quantity;
                        }
                        w.expire_on_commit = false;
                    }
                }
            }
            self.enter("commit", order_id, true).await;
            self.leave(order_id);
            result
        })
    }

    fn release(&self, order_id: Uuid) -> StepFuture<'_, ()> {
        Box::pin(async move {
            self.enter("release", order_id, false).await;
            {
                let mut w = self.world();
                if let Some((lines, ResStatus::Held)) = w.reservations.get(&order_id).cloned() {
                    for l in &lines {
                        *w.stock.get_mut(&l.sku).unwrap() += l.quantity;
                    }
                    w.reservations
                        .insert(order_id, (lines, ResStatus::Released));
                }
            }
            self.enter("release", order_id, true).await;
            self.leave(order_id);
            Ok(())
        })
    }

    fn refund(&self, charge_id: Uuid) -> StepFuture<'_, ()> {
        Box::pin(async move {
            let order_id = self
                .world()
                .charges
                .iter()
                .find(|(_, (id, _))| *id == charge_id)
                .map(|(order, _)| *order)
                .unwrap();
            self.enter("refund", order_id, false).await;
            {
                let mut w = self.world();
                let entry = w.charges.get_mut(&order_id).unwrap();
                if entry.1 == "captured" {
                    entry.1 = "refunded".into();
                    w.refunds += 1;
                }
            }
            self.enter("refund", order_id, true).await;
            self.leave(order_id);
            Ok(())
        })
    }

    fn captured_charges(&self, order_id: Uuid) -> StepFuture<'_, Vec<Uuid>> {
        Box::pin(async move {
            Ok(self
                .world()
                .charges
                .get(&order_id)
                .filter(|(_, s)| s == "captured")
                .map(|(id, _)| vec![*id])
                .unwrap_or_default())
        })
    }
}

/// Saga timing for tests: quick repeats, a short lease.
pub fn config() -> SagaConfig {
    SagaConfig {
        lease: Duration::from_secs(3),
        payment_attempts: 5,
        payment_retry_for: Duration::from_secs(60),
        backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        crash_after: None,
    }
}

pub async fn migrated(db: Db) -> Store {
    migrate(&db, MIGRATIONS).await.unwrap();
    Store::new(db, Outbox::new())
}

/// The events in the outbox about order `id` (its subject), in the order they were written.
pub async fn events_of(store: &Store, id: Uuid) -> Vec<Envelope> {
    stored_events(store.db())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.subject == id.to_string())
        .collect()
}

/// The types of `events`, short: `["OrderPlaced", "OrderConfirmed"]`.
pub fn types(events: &[Envelope]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e.event_type.trim_start_matches("brigade.orders."))
        .collect()
}

pub fn saga(store: &Store, fake: &Fake, instance: &str) -> Saga {
    Saga::new(store.clone(), Arc::new(fake.clone()), instance, config())
}

/// Records a PENDING order for 1 × product 1 and 2 × product 2 (50 EUR), leased to `lease`.
pub async fn new_order(store: &Store, fake: &Fake, lease: &Lease) -> Uuid {
    let order = sample_order(fake);
    let now = i64::try_from(brigade_chassis::time::unix_ms()).unwrap();
    let created = store
        .create_checkout(&order.id.to_string(), "fp", &order, lease, now, now)
        .await
        .unwrap();
    assert!(matches!(created, Created::New));
    order.id
}

/// An order (not recorded) of a new user for 1 × product 1 and 2 × product 2: 50 EUR.
pub fn sample_order(fake: &Fake) -> NewOrder {
    let lines: Vec<OrderLine> = [(0usize, 1u32), (1, 2)]
        .iter()
        .map(|&(i, q)| {
            let p = &fake.products[i];
            OrderLine {
                product_id: p.id,
                sku: p.sku.clone(),
                name: p.name.clone(),
                unit_price: p.price.clone(),
                quantity: q,
                line_total: Money {
                    amount_minor: p.price.amount_minor * i64::from(q),
                    currency: "EUR".into(),
                },
            }
        })
        .collect();
    NewOrder {
        id: Uuid::new_v4(),
        user_id: Uuid::new_v4(),
        lines,
        total: Money {
            amount_minor: 5000,
            currency: "EUR".into(),
        },
        card_number: "4242424242424242".into(),
        shipping: None,
        conversion: None,
        cart_version: Some(7),
    }
}

/// Another pool on the same store, as a second instance of the service would have.
pub async fn second_pool(db: &Db) -> Db {
    db.another_pool(4).await.unwrap()
}

/// Asserts that the order gained exactly one history row since it was `before`, a `step` with
/// `outcome` (the last row); the order now.
pub async fn one_more_step(store: &Store, before: &Order, step: &str, outcome: &str) -> Order {
    let after = store.order(before.id).await.unwrap().unwrap();
    assert_eq!(after.history.len(), before.history.len() + 1);
    let last = after.history.last().unwrap();
    assert_eq!((last.step.as_str(), last.outcome.as_str()), (step, outcome));
    after
}
