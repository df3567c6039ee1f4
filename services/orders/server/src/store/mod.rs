//! The orders store: orders, their saga state and history, and the idempotency keys of
//! checkouts, on SQLite or PostgreSQL.
//!
//! Every saga write is conditional on the writer holding the order's lease (`claimed_by`), and
//! carries the history row with it in one transaction, so a saga's state and its history never
//! disagree and two instances never both advance one saga. The writes that create an order and
//! end it also carry its event (`OrderPlaced`, `OrderConfirmed`, `OrderCancelled`) into the
//! outbox in that same transaction ([`events`]): a write that did not happen announces nothing.

mod events;
mod rows;

use std::collections::BTreeMap;
use std::time::Duration;

use brigade_chassis::db::{Query, Tx};
use catalog_api::Money;
use orders_api::{
    Audit, CancelReason, Order, OrderConversion, OrderLine, OrderListQuery, OrderPage, OrderStatus,
    OrderStatusEntry, OrderStatusPage, ShippingAddress,
};
use shipping_api::Quote;
use uuid::Uuid;

use rows::{OrderRow, StepRow, ORDER_COLUMNS};

/// A failure of the store itself: the caller's input was fine.
pub type Error = brigade_chassis::db::StoreError;

/// Where a checkout saga is. Persisted with the order, so that a saga resumes from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SagaState {
    /// Next: reserve every line at inventory.
    Reserving,
    /// Next: charge the total at payments (the same key on every attempt).
    Charging,
    /// Next: commit the reservation.
    Committing,
    /// Compensating: release the reservation (and refund anything captured when the payment's
    /// outcome was unknown), then cancel with the recorded reason.
    Releasing,
    /// Compensating: refund the charge, then cancel (the reservation expired).
    Refunding,
    /// Confirmed or cancelled.
    Done,
}

impl SagaState {
    pub const ALL: [SagaState; 6] = [
        SagaState::Reserving,
        SagaState::Charging,
        SagaState::Committing,
        SagaState::Releasing,
        SagaState::Refunding,
        SagaState::Done,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SagaState::Reserving => "reserving",
            SagaState::Charging => "charging",
            SagaState::Committing => "committing",
            SagaState::Releasing => "releasing",
            SagaState::Refunding => "refunding",
            SagaState::Done => "done",
        }
    }

    pub fn parse(name: &str) -> Option<SagaState> {
        SagaState::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// What a saga needs to take its next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SagaRow {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub state: SagaState,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub card_number: Option<String>,
    pub charge_id: Option<Uuid>,
    pub charge_attempts: u32,
    pub charge_started_ms: Option<i64>,
    pub cancel_reason: Option<CancelReason>,
    pub decline_code: Option<String>,
}

/// An order about to be recorded.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub id: Uuid,
    pub user_id: Uuid,
    pub lines: Vec<OrderLine>,
    /// What will be charged: the lines, plus the shipping's cost, in the currency paid in.
    pub total: Money,
    pub card_number: String,
    pub shipping: Option<NewShipping>,
    /// How `total` was converted, when it is paid in another currency than the catalog's.
    pub conversion: Option<OrderConversion>,
    /// The version of the shopper's cart the lines were read from, which `OrderConfirmed`
    /// carries to the cart.
    pub cart_version: Option<u64>,
}

/// Where an order about to be recorded ships, and what shipping quoted for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewShipping {
    pub address: ShippingAddress,
    pub quote: Quote,
}

/// An `Idempotency-Key` as recorded for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub order_id: Uuid,
    pub fingerprint: String,
    /// Until when (Unix ms) the request that created the order may still be waiting for it.
    pub answering_until_ms: i64,
}

/// The result of [`Store::create_checkout`].
#[derive(Debug, Clone)]
pub enum Created {
    /// This call recorded the order, leased to the calling instance.
    New,
    /// The key was already recorded (by an earlier or a concurrent request).
    Existing(KeyRecord),
}

/// A change of a saga's state, applied only by the lease holder and only from `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: SagaState,
    pub to: SagaState,
    /// The order's status after the change (final when `to` is [`SagaState::Done`]).
    pub status: OrderStatus,
    pub charge_id: Option<Uuid>,
    pub cancel_reason: Option<CancelReason>,
    pub decline_code: Option<String>,
    /// The history row recording why.
    pub step: &'static str,
    pub outcome: String,
    pub detail: String,
}

/// The start of the step a transition leads into, recorded by that transition's write rather
/// than by one of its own before the step's call: a write per step saved on every checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Begin {
    pub step: &'static str,
    pub detail: String,
    /// Whether the step is a charge attempt, counted before it is made (as
    /// [`Store::begin_charge_attempt`] counts one).
    pub counts_charge: bool,
}

impl Transition {
    /// The commit step's transition: the reservation is committed, the order confirmed.
    pub fn confirmed() -> Transition {
        Transition {
            from: SagaState::Committing,
            to: SagaState::Done,
            status: OrderStatus::Confirmed,
            charge_id: None,
            cancel_reason: None,
            decline_code: None,
            step: "commit",
            outcome: "ok".to_owned(),
            detail: "the order is confirmed".to_owned(),
        }
    }
}

/// A lease on an order's saga: who holds it and for how long each renewal lasts.
#[derive(Debug, Clone)]
pub struct Lease {
    pub instance: String,
    pub duration: Duration,
}

impl Lease {
    fn until(&self, now_ms: i64) -> i64 {
        now_ms.saturating_add(i64::try_from(self.duration.as_millis()).unwrap_or(i64::MAX / 2))
    }
}

brigade_chassis::store_handle! {
    /// The orders store. Cheap to clone: a pool handle and the outbox's.
    pub struct Store with outbox;
}

impl Store {
    /// The record of `key` for `user_id`, if any.
    pub async fn checkout_key(&self, user_id: Uuid, key: &str) -> Result<Option<KeyRecord>, Error> {
        let rows: Vec<KeyRow> = key_query(user_id, key).fetch_all(&self.db).await?;
        rows.into_iter().next().map(key_record).transpose()
    }

    /// Records `order` PENDING, its first history row, the idempotency record of `key` and
    /// `OrderPlaced`, in one transaction, leased to `lease.instance` — unless `key` is already
    /// recorded for the user, in which case nothing is written and the existing record is
    /// returned.
    pub async fn create_checkout(
        &self,
        key: &str,
        fingerprint: &str,
        order: &NewOrder,
        lease: &Lease,
        answering_until_ms: i64,
        now_ms: i64,
    ) -> Result<Created, Error> {
        let attempt = async {
            let mut tx = self.db.begin_write().await?;
            let existing: Vec<KeyRow> = key_query(order.user_id, key).fetch_all(&mut tx).await?;
            if let Some(row) = existing.into_iter().next() {
                return Ok(Created::Existing(key_record(row)?));
            }
            insert_order(&mut tx, order, lease, now_ms).await?;
            Query::new(
                "INSERT INTO checkout_keys (user_id, idempotency_key, fingerprint, order_id, \
                 answering_until_ms, created_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(order.user_id)
            .bind(key)
            .bind(fingerprint)
            .bind(order.id)
            .bind(answering_until_ms)
            .bind(now_ms)
            .execute(&mut tx)
            .await?;
            events::placed(&mut tx, &self.outbox, order).await?;
            tx.commit().await?;
            self.outbox.wake();
            Ok::<_, Error>(Created::New)
        };
        match attempt.await {
            Ok(created) => Ok(created),
            // A concurrent request with the same key committed first (PostgreSQL lets both
            // transactions get as far as the insert): answer as a repeat.
            Err(Error::Sql(e)) if is_unique_violation(&e) => {
                match self.checkout_key(order.user_id, key).await? {
                    Some(record) => Ok(Created::Existing(record)),
                    None => Err(Error::Sql(e)),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The order `id` with its history, whoever it belongs to.
    pub async fn order(&self, id: Uuid) -> Result<Option<Order>, Error> {
        let rows: Vec<OrderRow> =
            Query::new(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?"))
                .bind(id)
                .fetch_all(&self.db)
                .await?;
        match rows.into_iter().next() {
            Some(row) => Ok(Some(rows::order(row, self.history(id).await?)?)),
            None => Ok(None),
        }
    }

    /// The order `id` if it belongs to `user_id`.
    pub async fn order_of(&self, user_id: Uuid, id: Uuid) -> Result<Option<Order>, Error> {
        Ok(self.order(id).await?.filter(|o| o.user_id == user_id))
    }

    async fn history(&self, id: Uuid) -> Result<Vec<StepRow>, Error> {
        Ok(Query::new(
            "SELECT step, outcome, detail, at_ms FROM order_steps WHERE order_id = ? ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.db)
        .await?)
    }

    /// One page of the user's orders, newest first.
    pub async fn orders_of(
        &self,
        user_id: Uuid,
        query: &OrderListQuery,
    ) -> Result<OrderPage, Error> {
        let total: Vec<(i64,)> = Query::new("SELECT COUNT(*) FROM orders WHERE user_id = ?")
            .bind(user_id)
            .fetch_all(&self.db)
            .await?;
        let rows: Vec<OrderRow> = Query::new(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE user_id = ? \
                 ORDER BY created_at_ms DESC, id DESC LIMIT ? OFFSET ?"
        ))
        .bind(user_id)
        .bind(i64::from(query.page_size))
        .bind(i64::try_from(query.offset()).unwrap_or(i64::MAX))
        .fetch_all(&self.db)
        .await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let id = rows::uuid(&row.0, "order id")?;
            items.push(rows::order(row, self.history(id).await?)?);
        }
        Ok(OrderPage {
            items,
            page: query.page,
            page_size: query.page_size,
            total: total.first().map_or(0, |t| u64::try_from(t.0).unwrap_or(0)),
        })
    }

    /// Orders PENDING since before `created_before_ms`, and counts by status.
    pub async fn audit(&self, created_before_ms: i64) -> Result<Audit, Error> {
        let unfinished: Vec<(String,)> = Query::new(
            "SELECT id FROM orders WHERE status = 'PENDING' AND created_at_ms < ? \
             ORDER BY created_at_ms, id",
        )
        .bind(created_before_ms)
        .fetch_all(&self.db)
        .await?;
        let counts: Vec<(String, i64)> =
            Query::new("SELECT status, COUNT(*) FROM orders GROUP BY status")
                .fetch_all(&self.db)
                .await?;
        let mut orders: BTreeMap<String, u64> = OrderStatus::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), 0))
            .collect();
        for (status, count) in counts {
            orders.insert(status, u64::try_from(count).unwrap_or(0));
        }
        Ok(Audit {
            unfinished: unfinished
                .iter()
                .map(|(id,)| rows::uuid(id, "order id"))
                .collect::<Result<_, _>>()?,
            orders,
        })
    }

    /// Every user's orders by id, `limit` at a time, after `after`.
    pub async fn statuses(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<OrderStatusPage, Error> {
        let rows: Vec<(String, String, i64, String)> = Query::new(
            "SELECT id, status, total_minor, currency FROM orders WHERE id > ? ORDER BY id LIMIT ?",
        )
        .bind(after.map_or_else(String::new, |a| a.to_string()))
        .bind(i64::from(limit))
        .fetch_all(&self.db)
        .await?;
        let mut items = Vec::with_capacity(rows.len());
        for (id, status, total_minor, currency) in &rows {
            items.push(OrderStatusEntry {
                id: rows::uuid(id, "order id")?,
                status: OrderStatus::parse(status).ok_or_else(|| {
                    Error::corrupt(format!("order {id}"), format!("unknown status `{status}`"))
                })?,
                total: Money {
                    amount_minor: *total_minor,
                    currency: currency.clone(),
                },
            });
        }
        let next = if items.len() == limit as usize {
            items.last().map(|entry| entry.id)
        } else {
            None
        };
        Ok(OrderStatusPage { items, next })
    }

    /// The saga of order `id`, if the order exists.
    pub async fn saga(&self, id: Uuid) -> Result<Option<SagaRow>, Error> {
        type Row = (
            String,
            String,
            String,
            i64,
            String,
            Option<String>,
            Option<String>,
            i64,
            Option<i64>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = Query::new(
            "SELECT user_id, saga_state, lines, total_minor, currency, card_number, charge_id, \
             charge_attempts, charge_started_ms, cancel_reason, decline_code \
             FROM orders WHERE id = ?",
        )
        .bind(id)
        .fetch_all(&self.db)
        .await?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(None);
        };
        let (
            user_id,
            state,
            lines,
            total,
            currency,
            card_number,
            charge_id,
            attempts,
            started,
            reason,
            decline_code,
        ) = row;
        Ok(Some(SagaRow {
            order_id: id,
            user_id: rows::uuid(&user_id, "user id")?,
            state: SagaState::parse(&state)
                .ok_or_else(|| Error::corrupt("saga state", format!("`{state}` is unknown")))?,
            lines: rows::lines(&lines)?,
            total: Money {
                amount_minor: total,
                currency,
            },
            card_number,
            charge_id: charge_id.map(|c| rows::uuid(&c, "charge id")).transpose()?,
            charge_attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            charge_started_ms: started,
            cancel_reason: rows::cancel_reason(reason.as_deref())?,
            decline_code,
        }))
    }

    /// Ids of PENDING orders whose lease has lapsed at `now_ms`, oldest first.
    pub async fn claimable(&self, now_ms: i64, limit: u32) -> Result<Vec<Uuid>, Error> {
        let rows: Vec<(String,)> = Query::new(
            "SELECT id FROM orders WHERE status = 'PENDING' AND claimed_until_ms < ? \
             ORDER BY created_at_ms, id LIMIT ?",
        )
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.db)
        .await?;
        rows.iter()
            .map(|(id,)| rows::uuid(id, "order id"))
            .collect()
    }

    /// Takes the lease of a PENDING order whose lease has lapsed. One statement, so that of two
    /// instances trying at once exactly one gets it.
    pub async fn claim(&self, id: Uuid, lease: &Lease, now_ms: i64) -> Result<bool, Error> {
        let changed = Query::new(
            "UPDATE orders SET claimed_by = ?, claimed_until_ms = ? \
             WHERE id = ? AND status = 'PENDING' AND claimed_until_ms < ?",
        )
        .bind(lease.instance.clone())
        .bind(lease.until(now_ms))
        .bind(id)
        .bind(now_ms)
        .execute(&self.db)
        .await?;
        Ok(changed == 1)
    }

    /// Extends the lease; false when it is no longer ours (lapsed and taken, or the saga ended).
    pub async fn renew(&self, id: Uuid, lease: &Lease, now_ms: i64) -> Result<bool, Error> {
        let changed = Query::new(
            "UPDATE orders SET claimed_until_ms = ? \
             WHERE id = ? AND claimed_by = ? AND status = 'PENDING'",
        )
        .bind(lease.until(now_ms))
        .bind(id)
        .bind(lease.instance.clone())
        .execute(&self.db)
        .await?;
        Ok(changed == 1)
    }

    /// Gives the lease up (e.g. when an instance stops driving a saga it will not finish), so
    /// that another instance's recovery takes it at once rather than when it lapses.
    pub async fn unclaim(&self, id: Uuid, lease: &Lease) -> Result<(), Error> {
        Query::new("UPDATE orders SET claimed_until_ms = 0 WHERE id = ? AND claimed_by = ?")
            .bind(id)
            .bind(lease.instance.clone())
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Records a history row (a step starting, an attempt failing) while holding the lease,
    /// which it renews. False when the lease is no longer ours: the caller must stop.
    pub async fn record(
        &self,
        id: Uuid,
        lease: &Lease,
        step: &str,
        outcome: &str,
        detail: &str,
        now_ms: i64,
    ) -> Result<bool, Error> {
        let renew = Query::new(
            "UPDATE orders SET claimed_until_ms = ?, updated_at_ms = ? \
                 WHERE id = ? AND claimed_by = ? AND status = 'PENDING'",
        )
        .bind(lease.until(now_ms))
        .bind(now_ms)
        .bind(id)
        .bind(lease.instance.clone());
        self.leased_step(renew, id, (step, outcome, detail), now_ms)
            .await
    }

    /// Counts a charge attempt (and records its start) before it is made, so that the bound on
    /// attempts holds across restarts. False when the lease is no longer ours.
    pub async fn begin_charge_attempt(
        &self,
        id: Uuid,
        lease: &Lease,
        detail: &str,
        now_ms: i64,
    ) -> Result<bool, Error> {
        let count = Query::new(
            "UPDATE orders SET charge_attempts = charge_attempts + 1, \
                 charge_started_ms = COALESCE(charge_started_ms, ?), \
                 claimed_until_ms = ?, updated_at_ms = ? \
                 WHERE id = ? AND claimed_by = ? AND status = 'PENDING' AND saga_state = ?",
        )
        .bind(now_ms)
        .bind(lease.until(now_ms))
        .bind(now_ms)
        .bind(id)
        .bind(lease.instance.clone())
        .bind(SagaState::Charging.as_str());
        self.leased_step(count, id, ("charge", "started", detail), now_ms)
            .await
    }

    /// Runs `update` (which changes order `id` only while the lease is ours) and, when it
    /// changed the order, appends the history row `(step, outcome, detail)`, in one
    /// transaction. False when the lease is no longer ours: nothing was written.
    async fn leased_step(
        &self,
        update: Query,
        id: Uuid,
        (step, outcome, detail): (&str, &str, &str),
        now_ms: i64,
    ) -> Result<bool, Error> {
        let mut tx = self.db.begin_write().await?;
        if update.execute(&mut tx).await? != 1 {
            return Ok(false);
        }
        insert_step(&mut tx, id, step, outcome, detail, now_ms).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Applies `change` with its history row in one transaction, if the lease is still ours
    /// and the saga is still in `change.from`, and records the start of the next step when
    /// `begin` says it (counting a charge attempt when it is one). A transition to
    /// [`SagaState::Done`] forgets the card number and writes the order's end (`OrderConfirmed`
    /// or `OrderCancelled`) into the outbox. False when nothing was changed (nor announced):
    /// the caller must stop.
    pub async fn advance(
        &self,
        id: Uuid,
        lease: &Lease,
        change: &Transition,
        begin: Option<&Begin>,
        now_ms: i64,
    ) -> Result<bool, Error> {
        let mut tx = self.db.begin_write().await?;
        let done = change.to == SagaState::Done;
        let counts_charge = i64::from(begin.is_some_and(|b| b.counts_charge));
        // The order as the change leaves it, to build the event of its end from.
        let changed: Vec<events::EndRow> = Query::new(&format!(
            "UPDATE orders SET saga_state = ?, status = ?, \
                     charge_id = COALESCE(?, charge_id), \
                     cancel_reason = COALESCE(?, cancel_reason), \
                     decline_code = COALESCE(?, decline_code), \
                     card_number = CASE WHEN ? = 'done' THEN NULL ELSE card_number END, \
                     charge_attempts = charge_attempts + ?, \
                     charge_started_ms = CASE WHEN ? = 1 THEN COALESCE(charge_started_ms, ?) \
                         ELSE charge_started_ms END, \
                     claimed_until_ms = ?, updated_at_ms = ? \
                     WHERE id = ? AND claimed_by = ? AND status = 'PENDING' AND saga_state = ? \
                     RETURNING {}",
            events::END_COLUMNS
        ))
        .bind(change.to.as_str())
        .bind(change.status.as_str())
        .bind(change.charge_id.map(|c| c.to_string()))
        .bind(change.cancel_reason.map(|r| r.as_str().to_owned()))
        .bind(change.decline_code.clone())
        .bind(change.to.as_str())
        .bind(counts_charge)
        .bind(counts_charge)
        .bind(now_ms)
        .bind(if done { 0 } else { lease.until(now_ms) })
        .bind(now_ms)
        .bind(id)
        .bind(lease.instance.clone())
        .bind(change.from.as_str())
        .fetch_all(&mut tx)
        .await?;
        let Some(order) = changed.into_iter().next() else {
            return Ok(false);
        };
        insert_step(
            &mut tx,
            id,
            change.step,
            &change.outcome,
            &change.detail,
            now_ms,
        )
        .await?;
        if let Some(begin) = begin {
            insert_step(&mut tx, id, begin.step, "started", &begin.detail, now_ms).await?;
        }
        let announced =
            done && events::ended(&mut tx, &self.outbox, id, change.status, order).await?;
        tx.commit().await?;
        if announced {
            self.outbox.wake();
        }
        Ok(true)
    }
}

/// Writes `order` PENDING, leased to `lease.instance`, with its first history row.
async fn insert_order(
    tx: &mut Tx,
    order: &NewOrder,
    lease: &Lease,
    now_ms: i64,
) -> Result<(), Error> {
    let lines = rows::json(&order.lines, "order lines")?;
    let shipping = order.shipping.as_ref();
    let address = shipping
        .map(|s| rows::json(&s.address, "shipping address"))
        .transpose()?;
    let quote = shipping
        .map(|s| rows::json(&s.quote, "shipping quote"))
        .transpose()?;
    let conversion = order
        .conversion
        .as_ref()
        .map(|c| rows::json(c, "currency conversion"))
        .transpose()?;
    // The cart counts its versions in an i64: a larger one is none of its own.
    let cart_version = order.cart_version.and_then(|v| i64::try_from(v).ok());
    Query::new(
        "INSERT INTO orders (id, user_id, status, lines, total_minor, currency, saga_state, \
         card_number, claimed_by, claimed_until_ms, created_at_ms, updated_at_ms, \
         shipping_address, shipping_quote, shipping_minor, conversion, cart_version) \
         VALUES (?, ?, 'PENDING', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(order.id)
    .bind(order.user_id)
    .bind(lines)
    .bind(order.total.amount_minor)
    .bind(order.total.currency.clone())
    .bind(SagaState::Reserving.as_str())
    .bind(order.card_number.clone())
    .bind(lease.instance.clone())
    .bind(lease.until(now_ms))
    .bind(now_ms)
    .bind(now_ms)
    .bind(address)
    .bind(quote)
    .bind(shipping.map(|s| s.quote.cost.amount_minor))
    .bind(conversion)
    .bind(cart_version)
    .execute(&mut *tx)
    .await?;
    let mut detail = format!(
        "{} line(s), total {} {}",
        order.lines.len(),
        order.total.amount_minor,
        order.total.currency
    );
    if let Some(s) = shipping {
        detail += &format!(
            " with shipping of {} {} to {}",
            s.quote.cost.amount_minor, s.quote.cost.currency, s.address.country
        );
    }
    if let Some(c) = &order.conversion {
        detail += &format!(
            ", converted from {} {} at {} (reference rates of {})",
            c.base_total.amount_minor, c.base_total.currency, c.rate, c.rate_date
        );
    }
    insert_step(tx, order.id, "created", "ok", &detail, now_ms).await
}

/// Appends a row to the order's history, in `tx`, which must have locked the order's row.
pub(crate) async fn insert_step(
    tx: &mut Tx,
    id: Uuid,
    step: &str,
    outcome: &str,
    detail: &str,
    now_ms: i64,
) -> Result<(), Error> {
    // The order's row is locked by this transaction (inserted or updated just before), so no
    // other writer can take the same sequence number.
    Query::new(
        "INSERT INTO order_steps (order_id, seq, step, outcome, detail, at_ms) \
         SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ? FROM order_steps WHERE order_id = ?",
    )
    .bind(id)
    .bind(step)
    .bind(outcome)
    .bind(detail)
    .bind(now_ms)
    .bind(id)
    .execute(tx)
    .await?;
    Ok(())
}

/// `order_id, fingerprint, answering_until_ms` of a checkout's idempotency record.
type KeyRow = (String, String, i64);

/// The idempotency record of `key` for `user_id` (none or one row).
fn key_query(user_id: Uuid, key: &str) -> Query {
    Query::new(
        "SELECT order_id, fingerprint, answering_until_ms FROM checkout_keys \
         WHERE user_id = ? AND idempotency_key = ?",
    )
    .bind(user_id)
    .bind(key)
}

fn key_record((order_id, fingerprint, answering_until_ms): KeyRow) -> Result<KeyRecord, Error> {
    Ok(KeyRecord {
        order_id: rows::uuid(&order_id, "order id")?,
        fingerprint,
        answering_until_ms,
    })
}

/// A unique constraint refused the insert (SQLite 2067/1555, PostgreSQL 23505).
fn is_unique_violation(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}
