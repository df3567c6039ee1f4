//! Recording, settling and refunding charges, each change with its ledger entry and its event.

use brigade_chassis::db::{Backend, Query, Tx};
use payments_api::{Charge, ChargeStatus, DeclineCode, LedgerKind};
use uuid::Uuid;

use super::events::{self, announce};
use super::ledger;
use super::rows::{self, ChargeRow, StoredCharge, CHARGE_COLUMNS};
use super::{Error, Store};

/// A charge about to be recorded, with the processor's answer already known.
#[derive(Debug, Clone)]
pub struct NewCharge<'a> {
    pub id: Uuid,
    pub idempotency_key: &'a str,
    pub order_id: Uuid,
    pub amount_minor: i64,
    pub currency: &'a str,
    pub card_last4: &'a str,
    pub card_fingerprint: &'a str,
    /// `captured`, `declined`, or `pending` (to be settled at `settle_at_ms`).
    pub status: ChargeStatus,
    pub decline_code: Option<DeclineCode>,
    pub settle_at_ms: Option<i64>,
    pub now_ms: i64,
}

impl NewCharge<'_> {
    fn charge(&self) -> Charge {
        Charge {
            id: self.id,
            order_id: self.order_id,
            amount_minor: self.amount_minor,
            currency: self.currency.to_owned(),
            status: self.status,
            decline_code: self.decline_code,
            card_last4: self.card_last4.to_owned(),
            created_at_ms: self.now_ms,
            updated_at_ms: self.now_ms,
            refunded_amount_minor: 0,
        }
    }
}

/// What recording a charge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The charge is recorded (with its capture entry when captured).
    Inserted(Charge),
    /// The idempotency key already names this charge; nothing was written.
    KeyTaken(StoredCharge),
    /// The order already has a pending or captured charge (this one); nothing was written.
    OrderHeld(Charge),
}

/// Why a refund was not made.
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error("there is no charge with id {0}")]
    NotFound(Uuid),
    /// Only a captured charge can be refunded.
    #[error("charge {} is {} and cannot be refunded", .0.id, .0.status)]
    NotRefundable(Box<Charge>),
    /// The refund's idempotency key was used to refund another charge.
    #[error("the idempotency key was used to refund charge {charge_id}")]
    KeyReused { charge_id: Uuid },
    #[error(transparent)]
    Store(#[from] Error),
}

impl From<sqlx::Error> for RefundError {
    fn from(e: sqlx::Error) -> Self {
        RefundError::Store(Error::Sql(e))
    }
}

const BY_KEY: &str = "WHERE idempotency_key = ?";
const BY_ID: &str = "WHERE id = ?";
/// The charges that stand in the way of a new one: the one under its key, and the order's live
/// one (`idempotency_key, id`).
const HOLDERS: &str = "SELECT idempotency_key, id FROM charges \
     WHERE idempotency_key = ? OR (order_id = ? AND status IN ('pending', 'captured'))";
const LIVE_FOR_ORDER: &str = "WHERE order_id = ? AND status IN ('pending', 'captured')";

const INSERT: &str = "INSERT INTO charges \
     (id, idempotency_key, order_id, amount_minor, currency, card_last4, card_fingerprint, \
      status, decline_code, settle_at_ms, created_at_ms, updated_at_ms) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
     ON CONFLICT DO NOTHING";

/// Settling never happens before the charge is due, whoever attempts it.
/// Parameters: now, id, now.
const SETTLE: &str = "UPDATE charges SET status = 'captured', updated_at_ms = ? \
     WHERE id = ? AND status = 'pending' AND settle_at_ms <= ?";

/// Parameters: reason, refund idempotency key, now, id.
const REFUND: &str = "UPDATE charges SET status = 'refunded', \
     refunded_amount_minor = amount_minor, refund_reason = ?, refund_idempotency_key = ?, \
     updated_at_ms = ? WHERE id = ? AND status = 'captured'";

/// How often recording is tried when a concurrent request wins the race in between this one's
/// reads and its insert (PostgreSQL only: SQLite's write lock rules the race out). The second
/// attempt sees the winner, so more than two means something else is wrong.
const RECORD_ATTEMPTS: usize = 3;

fn select(filter: &str) -> String {
    format!("SELECT {CHARGE_COLUMNS} FROM charges {filter}")
}

/// The charge `id` as the transaction `tx` sees it.
async fn charge_in(tx: &mut Tx, id: &str) -> Result<Option<StoredCharge>, Error> {
    let row: Option<ChargeRow> = Query::new(&select(BY_ID))
        .bind(id)
        .fetch_optional(tx)
        .await?;
    row.map(rows::charge).transpose()
}

impl Store {
    /// Records `new` unless its idempotency key is taken or its order already has a live charge;
    /// a captured charge gets its capture entry and `PaymentCaptured`, a declined one
    /// `PaymentFailed`, in the same transaction (a pending one is announced when it settles).
    /// Exactly one of many concurrent calls with one key inserts; the others get
    /// [`Recorded::KeyTaken`], and write nothing.
    pub async fn record_charge(&self, new: &NewCharge<'_>) -> Result<Recorded, Error> {
        for _ in 0..RECORD_ATTEMPTS {
            if let Some(recorded) = self.try_record(new).await? {
                return Ok(recorded);
            }
        }
        Err(Error::Contended("the charge"))
    }

    /// `None` when a concurrent request took the key or the order between the reads and the
    /// insert (the insert then changed nothing).
    async fn try_record(&self, new: &NewCharge<'_>) -> Result<Option<Recorded>, Error> {
        let mut tx = self.db.begin_write().await?;
        // One statement, so one snapshot: on PostgreSQL two statements could see a
        // concurrent request's charge for the order but not (yet) under its key.
        let holders: Vec<(String, String)> = Query::new(HOLDERS)
            .bind(new.idempotency_key)
            .bind(new.order_id)
            .fetch_all(&mut tx)
            .await?;
        let holder = holders
            .iter()
            .find(|(key, _)| key == new.idempotency_key)
            .or(holders.first());
        if let Some((key, id)) = holder {
            let Some(stored) = charge_in(&mut tx, id).await? else {
                return Ok(None);
            };
            return Ok(Some(if key == new.idempotency_key {
                Recorded::KeyTaken(stored)
            } else {
                Recorded::OrderHeld(stored.charge)
            }));
        }
        let inserted = Query::new(INSERT)
            .bind(new.id)
            .bind(new.idempotency_key)
            .bind(new.order_id)
            .bind(new.amount_minor)
            .bind(new.currency)
            .bind(new.card_last4)
            .bind(new.card_fingerprint)
            .bind(new.status.as_str())
            .bind(new.decline_code.map(DeclineCode::as_str))
            .bind(new.settle_at_ms)
            // Created and updated at the same moment.
            .bind(new.now_ms)
            .bind(new.now_ms)
            .execute(&mut tx)
            .await?;
        if inserted == 0 {
            return Ok(None);
        }
        let charge = new.charge();
        match (new.status, new.decline_code) {
            (ChargeStatus::Captured, _) => {
                ledger::append(&mut tx, &charge, LedgerKind::Capture, new.now_ms).await?;
                let event = events::captured(&charge);
                announce(tx.conn(), &self.outbox, &event).await?;
            }
            (ChargeStatus::Declined, Some(code)) => {
                let event = events::declined(&charge, code);
                announce(tx.conn(), &self.outbox, &event).await?;
            }
            // The processor always says why it declined: a charge that does not cannot be
            // announced, so it is not recorded either.
            (ChargeStatus::Declined, None) => {
                return Err(Error::corrupt(
                    format!("charge {}", new.id),
                    "declined without a decline code",
                ))
            }
            (ChargeStatus::Pending | ChargeStatus::Refunded, _) => {}
        }
        tx.commit().await?;
        if new.status != ChargeStatus::Pending {
            self.outbox.wake();
        }
        Ok(Some(Recorded::Inserted(charge)))
    }

    /// Captures the pending charge `id` if it is due at `now_ms`, with its capture entry and
    /// `PaymentCaptured`, and returns the charge as it now is. Safe to call from anywhere at any
    /// time: only the first call after the charge is due changes (and announces) anything.
    pub async fn settle(&self, id: Uuid, now_ms: i64) -> Result<Option<StoredCharge>, Error> {
        let mut tx = self.db.begin_write().await?;
        let settled = Query::new(SETTLE)
            .bind(now_ms)
            .bind(id)
            .bind(now_ms)
            .execute(&mut tx)
            .await?;
        let Some(stored) = charge_in(&mut tx, &id.to_string()).await? else {
            return Ok(None);
        };
        if settled == 1 {
            let charge = &stored.charge;
            ledger::append(&mut tx, charge, LedgerKind::Capture, now_ms).await?;
            let event = events::captured(charge);
            announce(tx.conn(), &self.outbox, &event).await?;
            tx.commit().await?;
            self.outbox.wake();
        }
        Ok(Some(stored))
    }

    /// Refunds the captured charge `id` in full, with its refund entry and `PaymentRefunded`.
    /// Refunding a refunded charge changes (and announces) nothing and returns it.
    pub async fn refund(
        &self,
        id: Uuid,
        idempotency_key: Option<&str>,
        reason: Option<&str>,
        now_ms: i64,
    ) -> Result<Charge, RefundError> {
        let attempt = async {
            let mut tx = self.db.begin_write().await?;
            // SQLite's write lock is held from the transaction's start; PostgreSQL locks the row.
            let mut locked = Query::new(&select(BY_ID)).bind(id);
            if tx.backend() == Backend::Postgres {
                locked.push(" FOR UPDATE");
            }
            let row: Option<ChargeRow> = locked.fetch_optional(&mut tx).await?;
            let Some(mut charge) = row.map(rows::charge).transpose()?.map(|s| s.charge) else {
                return Err(RefundError::NotFound(id));
            };
            if let Some(key) = idempotency_key {
                let other: Option<(String,)> = Query::new(
                    "SELECT id FROM charges WHERE refund_idempotency_key = ? AND id <> ?",
                )
                .bind(key)
                .bind(id)
                .fetch_optional(&mut tx)
                .await?;
                if let Some((other,)) = other {
                    let charge_id = rows::uuid(&other, "id")
                        .map_err(|reason| Error::corrupt(&other, reason))?;
                    return Err(RefundError::KeyReused { charge_id });
                }
            }
            match charge.status {
                ChargeStatus::Refunded => return Ok(charge),
                ChargeStatus::Pending | ChargeStatus::Declined => {
                    return Err(RefundError::NotRefundable(Box::new(charge)))
                }
                ChargeStatus::Captured => {}
            }
            let refunded = Query::new(REFUND)
                .bind(reason)
                .bind(idempotency_key)
                .bind(now_ms)
                .bind(id)
                .execute(&mut tx)
                .await?;
            if refunded != 1 {
                // The row is locked (FOR UPDATE, or SQLite's write lock) and was captured.
                return Err(RefundError::Store(Error::Contended("the refund")));
            }
            let refund_id = ledger::append(&mut tx, &charge, LedgerKind::Refund, now_ms).await?;
            let event = events::refunded(&charge, refund_id);
            announce(tx.conn(), &self.outbox, &event).await?;
            tx.commit().await?;
            self.outbox.wake();
            charge.status = ChargeStatus::Refunded;
            charge.refunded_amount_minor = charge.amount_minor;
            charge.updated_at_ms = now_ms;
            Ok(charge)
        };
        match (attempt.await, idempotency_key) {
            // Two charges refunded at once under one key: the unique index let one through.
            (Err(RefundError::Store(Error::Sql(sqlx::Error::Database(e)))), Some(key))
                if e.is_unique_violation() =>
            {
                match self.refunded_with_key(key).await? {
                    Some(charge_id) => Err(RefundError::KeyReused { charge_id }),
                    None => Err(RefundError::Store(Error::Contended("the refund"))),
                }
            }
            (result, _) => result,
        }
    }

    async fn refunded_with_key(&self, key: &str) -> Result<Option<Uuid>, Error> {
        let row: Option<(String,)> =
            Query::new("SELECT id FROM charges WHERE refund_idempotency_key = ?")
                .bind(key)
                .fetch_optional(&self.db)
                .await?;
        row.map(|(id,)| rows::uuid(&id, "id").map_err(|reason| Error::corrupt(&id, reason)))
            .transpose()
    }

    /// The charge `id`, if there is one.
    pub async fn charge(&self, id: Uuid) -> Result<Option<StoredCharge>, Error> {
        let rows = self.charges_where(BY_ID, &id.to_string()).await?;
        Ok(rows.into_iter().next())
    }

    /// The charge made under `idempotency_key`, if any.
    pub async fn charge_by_key(
        &self,
        idempotency_key: &str,
    ) -> Result<Option<StoredCharge>, Error> {
        let rows = self.charges_where(BY_KEY, idempotency_key).await?;
        Ok(rows.into_iter().next())
    }

    /// The order's pending or captured charge, if it has one (it has at most one).
    pub async fn live_charge_for_order(&self, order_id: Uuid) -> Result<Option<Charge>, Error> {
        let rows = self
            .charges_where(LIVE_FOR_ORDER, &order_id.to_string())
            .await?;
        Ok(rows.into_iter().next().map(|s| s.charge))
    }

    /// Every charge of the order, oldest first.
    pub async fn charges_for_order(&self, order_id: Uuid) -> Result<Vec<Charge>, Error> {
        let rows = self
            .charges_where(
                "WHERE order_id = ? ORDER BY created_at_ms, id",
                &order_id.to_string(),
            )
            .await?;
        Ok(rows.into_iter().map(|s| s.charge).collect())
    }

    /// The pending charges due at `now_ms` (at most `limit`), oldest first.
    pub async fn due_charges(&self, now_ms: i64, limit: i64) -> Result<Vec<Uuid>, Error> {
        let rows: Vec<(String,)> = Query::new(
            "SELECT id FROM charges WHERE status = 'pending' AND settle_at_ms <= ? \
             ORDER BY settle_at_ms LIMIT ?",
        )
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.db)
        .await?;
        rows.into_iter()
            .map(|(id,)| rows::uuid(&id, "id").map_err(|reason| Error::corrupt(&id, reason)))
            .collect()
    }

    async fn charges_where(&self, filter: &str, arg: &str) -> Result<Vec<StoredCharge>, Error> {
        let rows: Vec<ChargeRow> = Query::new(&select(filter))
            .bind(arg)
            .fetch_all(&self.db)
            .await?;
        rows.into_iter().map(rows::charge).collect()
    }
}
