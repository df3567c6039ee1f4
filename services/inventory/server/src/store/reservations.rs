//! Reservations: reserve all lines or none, commit, release; and the unit movements they make,
//! each announced with the SKU's new counters.

use std::collections::HashMap;

use brigade_chassis::db::Query;
use brigade_chassis::events::Outbox;
use inventory_api::{
    CheckedReservation, Reservation, ReservationLine, ReservationStatus, ShortLine, StockLevel,
};
use uuid::Uuid;

use super::events::stock_changed;
use super::rows::{self, LevelRow, ReservationRow, RESERVATION_COLUMNS};
use super::stock::locked_levels;
use super::{
    by_sku, expect_changed, CommitError, Error, ReleaseError, ReserveError, Reserved, Store, Tx,
};

/// How a statement moves units between a SKU's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Movement {
    /// Available → held.
    Hold,
    /// Held → committed.
    Sell,
    /// Held → available.
    Return,
    /// Available → committed: committing a reservation whose hold had ended.
    SellAgain,
}

impl Store {
    /// The reservation of `order_id`, if the order has one.
    pub async fn reservation(&self, order_id: Uuid) -> Result<Option<Reservation>, Error> {
        let mut sql = Query::default();
        select_reservation(&mut sql, order_id);
        let rows: Vec<ReservationRow> = sql.fetch_all(&self.db).await?;
        rows::reservation(rows)
    }

    /// Holds every line of `request` for `order_id` until `now_ms + ttl`, or nothing at all. A
    /// refusal records nothing, so that the same order may try again later.
    pub async fn reserve(
        &self,
        order_id: Uuid,
        request: &CheckedReservation,
        now_ms: u64,
    ) -> Result<Reserved, ReserveError> {
        let expires_at_ms = now_ms.saturating_add(request.ttl_ms());
        let mut tx = self.db.begin_write().await.map_err(Error::from)?;
        // The order's row first: it decides whether this is a repeat. On PostgreSQL a concurrent
        // first attempt for the same order makes this wait until that one is decided.
        let mut sql = Query::default();
        sql.push(
            "INSERT INTO reservations (order_id, status, expires_at_ms, created_at_ms, updated_at_ms) \
             VALUES (",
        )
        .push_bind(order_id)
        .push(", 'held', ")
        .push_bind(rows::ms(expires_at_ms))
        .push(", ")
        .push_bind(rows::ms(now_ms))
        .push(", ")
        .push_bind(rows::ms(now_ms))
        .push(") ON CONFLICT DO NOTHING");
        if sql.execute(&mut tx).await.map_err(Error::from)? == 0 {
            tx.rollback().await.map_err(Error::from)?;
            return self.repeated(order_id, request.lines()).await;
        }

        let skus: Vec<String> = request.lines().iter().map(|l| l.sku.clone()).collect();
        let levels = locked_levels(&mut tx, &skus).await?;
        let unknown: Vec<String> = skus
            .iter()
            .filter(|sku| !levels.iter().any(|level| &level.sku == *sku))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            tx.rollback().await.map_err(Error::from)?;
            return Err(ReserveError::UnknownSkus(unknown));
        }
        let short = short_lines(request.lines(), &levels);
        if !short.is_empty() {
            tx.rollback().await.map_err(Error::from)?;
            return Err(ReserveError::OutOfStock { short });
        }
        move_units(
            &mut tx,
            &self.outbox,
            request.lines(),
            Movement::Hold,
            now_ms,
        )
        .await?;
        insert_lines(&mut tx, order_id, request.lines()).await?;
        tx.commit().await.map_err(Error::from)?;
        self.outbox.wake();
        Ok(Reserved::Now(Reservation {
            order_id,
            status: ReservationStatus::Held,
            lines: request.lines().to_vec(),
            expires_at_ms,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
        }))
    }

    /// The answer to a reservation request for an order that has one.
    async fn repeated(
        &self,
        order_id: Uuid,
        lines: &[ReservationLine],
    ) -> Result<Reserved, ReserveError> {
        // Reservations are never deleted, and their lines never change.
        let existing = self.reservation(order_id).await?.ok_or_else(|| {
            Error::corrupt(
                format!("reservation {order_id}"),
                "its row exists but cannot be read with its lines",
            )
        })?;
        let sorted = |lines: &[ReservationLine]| by_sku(lines, |l| l.sku.as_str());
        if sorted(&existing.lines) == sorted(lines) {
            Ok(Reserved::Before(existing))
        } else {
            Err(ReserveError::Mismatch { existing })
        }
    }

    /// Sells the units of `order_id`'s reservation. Idempotent. A released or expired one is
    /// sold if its units are all available again; otherwise [`CommitError::Gone`].
    pub async fn commit(&self, order_id: Uuid, now_ms: u64) -> Result<Reservation, CommitError> {
        let mut tx = self.db.begin_write().await.map_err(Error::from)?;
        let Some(reservation) = locked_reservation(&mut tx, order_id).await? else {
            tx.rollback().await.map_err(Error::from)?;
            return Err(CommitError::NotFound);
        };
        let outbox = &self.outbox;
        match reservation.status {
            ReservationStatus::Committed => {
                tx.rollback().await.map_err(Error::from)?;
                return Ok(reservation);
            }
            ReservationStatus::Held => {
                move_units(&mut tx, outbox, &reservation.lines, Movement::Sell, now_ms).await?;
            }
            ReservationStatus::Released | ReservationStatus::Expired => {
                let skus: Vec<String> = reservation.lines.iter().map(|l| l.sku.clone()).collect();
                let levels = locked_levels(&mut tx, &skus).await?;
                let short = short_lines(&reservation.lines, &levels);
                if !short.is_empty() {
                    tx.rollback().await.map_err(Error::from)?;
                    return Err(CommitError::Gone { reservation, short });
                }
                let lines = &reservation.lines;
                move_units(&mut tx, outbox, lines, Movement::SellAgain, now_ms).await?;
            }
        }
        let committed =
            set_status(&mut tx, reservation, ReservationStatus::Committed, now_ms).await?;
        tx.commit().await.map_err(Error::from)?;
        self.outbox.wake();
        Ok(committed)
    }

    /// Gives the held units of `order_id`'s reservation back. Idempotent; a released or expired
    /// reservation is answered as it is; a committed one is [`ReleaseError::AlreadyCommitted`].
    pub async fn release(&self, order_id: Uuid, now_ms: u64) -> Result<Reservation, ReleaseError> {
        let mut tx = self.db.begin_write().await.map_err(Error::from)?;
        match release_in(&mut tx, &self.outbox, order_id, now_ms).await {
            Ok(Released::Now(reservation)) => {
                tx.commit().await.map_err(Error::from)?;
                self.outbox.wake();
                Ok(reservation)
            }
            Ok(Released::Before(reservation)) => {
                tx.rollback().await.map_err(Error::from)?;
                Ok(reservation)
            }
            // A failed store is left to the drop, which rolls back, so that its error is the
            // one answered.
            Err(ReleaseError::Store(error)) => Err(ReleaseError::Store(error)),
            Err(refusal) => {
                tx.rollback().await.map_err(Error::from)?;
                Err(refusal)
            }
        }
    }
}

/// What [`release_in`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Released {
    /// The held units were given back (and announced); commit the transaction.
    Now(Reservation),
    /// The reservation had been released or had expired: nothing was changed.
    Before(Reservation),
}

/// Gives the held units of `order_id`'s reservation back inside `tx`, announcing each SKU's new
/// counters, and leaves committing to the caller. The one release, shared by
/// `POST /v1/reservations/{order_id}/release` ([`Store::release`]) and by the handler of
/// `OrderCancelled` ([`crate::events`]), which runs it in the transaction that records the event
/// as applied. A committed reservation is [`ReleaseError::AlreadyCommitted`]; none is
/// [`ReleaseError::NotFound`]; both leave `tx` untouched.
pub(crate) async fn release_in(
    tx: &mut Tx,
    outbox: &Outbox,
    order_id: Uuid,
    now_ms: u64,
) -> Result<Released, ReleaseError> {
    let Some(reservation) = locked_reservation(tx, order_id).await? else {
        return Err(ReleaseError::NotFound);
    };
    match reservation.status {
        ReservationStatus::Held => {
            move_units(tx, outbox, &reservation.lines, Movement::Return, now_ms).await?;
            let released = set_status(tx, reservation, ReservationStatus::Released, now_ms).await?;
            Ok(Released::Now(released))
        }
        ReservationStatus::Released | ReservationStatus::Expired => {
            Ok(Released::Before(reservation))
        }
        ReservationStatus::Committed => Err(ReleaseError::AlreadyCommitted(reservation)),
    }
}

/// Appends the select of `order_id`'s reservation, one row per line in the lines' order.
fn select_reservation(sql: &mut Query, order_id: Uuid) {
    sql.push("SELECT ")
        .push(RESERVATION_COLUMNS)
        .push(
            " FROM reservations r JOIN reservation_lines l ON l.order_id = r.order_id \
             WHERE r.order_id = ",
        )
        .push_bind(order_id)
        .push(" ORDER BY l.position");
}

/// `order_id`'s reservation, locked until `tx` ends.
async fn locked_reservation(tx: &mut Tx, order_id: Uuid) -> Result<Option<Reservation>, Error> {
    let mut sql = Query::default();
    select_reservation(&mut sql, order_id);
    sql.push_lock_rows_of("r");
    let rows: Vec<ReservationRow> = sql.fetch_all(&mut *tx).await?;
    rows::reservation(rows)
}

/// Moves `status` of a reservation locked by `tx`.
async fn set_status(
    tx: &mut Tx,
    mut reservation: Reservation,
    status: ReservationStatus,
    now_ms: u64,
) -> Result<Reservation, Error> {
    let order_id = reservation.order_id;
    let mut sql = Query::default();
    sql.push("UPDATE reservations SET status = ")
        .push_bind(status.as_str())
        .push(", updated_at_ms = ")
        .push_bind(rows::ms(now_ms))
        .push(" WHERE order_id = ")
        .push_bind(order_id);
    expect_changed(sql.execute(&mut *tx).await?, 1, || {
        format!("reservation {order_id}")
    })?;
    reservation.status = status;
    reservation.updated_at_ms = now_ms;
    Ok(reservation)
}

/// The lines of `lines` that `levels` cannot cover, in the order of `lines`. A SKU missing from
/// `levels` has nothing available.
pub(super) fn short_lines(lines: &[ReservationLine], levels: &[StockLevel]) -> Vec<ShortLine> {
    let available: HashMap<&str, u64> = levels
        .iter()
        .map(|level| (level.sku.as_str(), level.available))
        .collect();
    lines
        .iter()
        .filter_map(|line| {
            let available = available.get(line.sku.as_str()).copied().unwrap_or(0);
            (available < u64::from(line.quantity)).then(|| ShortLine {
                sku: line.sku.clone(),
                requested: line.quantity,
                available,
            })
        })
        .collect()
}

/// Moves the units of `lines` as `movement` says, one SKU at a time in SKU order, announcing
/// each SKU's new counters. Each update is guarded by the condition that keeps the promise, so
/// that even a wrong read could not break it: the statement would change nothing, and the
/// transaction fails.
async fn move_units(
    tx: &mut Tx,
    outbox: &Outbox,
    lines: &[ReservationLine],
    movement: Movement,
    now_ms: u64,
) -> Result<(), Error> {
    let quantities: Vec<(String, i64)> = lines
        .iter()
        .map(|l| (l.sku.clone(), i64::from(l.quantity)))
        .collect();
    move_quantities(tx, outbox, &quantities, movement, now_ms).await
}

/// [`move_units`] for `(sku, quantity)` pairs, each SKU once.
pub(super) async fn move_quantities(
    tx: &mut Tx,
    outbox: &Outbox,
    quantities: &[(String, i64)],
    movement: Movement,
    now_ms: u64,
) -> Result<(), Error> {
    for (sku, quantity) in by_sku(quantities, |(sku, _)| sku.as_str()) {
        let mut sql = Query::default();
        sql.push("UPDATE stock SET ");
        match movement {
            Movement::Hold => sql.push("held = held + ").push_bind(quantity),
            Movement::Sell => sql
                .push("held = held - ")
                .push_bind(quantity)
                .push(", committed = committed + ")
                .push_bind(quantity),
            Movement::Return => sql.push("held = held - ").push_bind(quantity),
            Movement::SellAgain => sql.push("committed = committed + ").push_bind(quantity),
        };
        sql.push(", updated_at_ms = ")
            .push_bind(rows::ms(now_ms))
            .push(" WHERE sku = ")
            .push_bind(&sku)
            .push(" AND ");
        match movement {
            Movement::Hold | Movement::SellAgain => {
                sql.push("stock - held - committed >= ").push_bind(quantity)
            }
            Movement::Sell | Movement::Return => sql.push("held >= ").push_bind(quantity),
        };
        sql.push(" RETURNING sku, stock, held, committed");
        let changed: Vec<LevelRow> = sql.fetch_all(&mut *tx).await?;
        let changed_rows = u64::try_from(changed.len()).unwrap_or(u64::MAX);
        expect_changed(changed_rows, 1, || format!("stock of {sku}"))?;
        for row in changed {
            stock_changed(tx, outbox, rows::level(row)?).await?;
        }
    }
    Ok(())
}

/// Records the lines of a new reservation, keeping the order they were asked in.
async fn insert_lines(tx: &mut Tx, order_id: Uuid, lines: &[ReservationLine]) -> Result<(), Error> {
    let order_id = order_id.to_string();
    let mut sql = Query::default();
    sql.push("INSERT INTO reservation_lines (order_id, sku, position, quantity) VALUES ");
    for (position, line) in lines.iter().enumerate() {
        if position > 0 {
            sql.push(", ");
        }
        sql.push("(")
            .push_bind(&order_id)
            .push(", ")
            .push_bind(&line.sku)
            .push(", ")
            .push_bind(i64::try_from(position).unwrap_or(i64::MAX))
            .push(", ")
            .push_bind(i64::from(line.quantity))
            .push(")");
    }
    let inserted = sql.execute(&mut *tx).await?;
    let expected = u64::try_from(lines.len()).unwrap_or(u64::MAX);
    expect_changed(inserted, expected, || {
        format!("lines of reservation {order_id}")
    })
}
