//! The payments store: charges and the ledger on SQLite or PostgreSQL.
//!
//! Every change of a charge that moves money appends its ledger entry in the same transaction,
//! and every change the rest of the system hears about (a capture, a decline, a refund) its
//! event, through the outbox ([`events`]): a change that did not happen announces nothing.
//! Write transactions on SQLite begin with `BEGIN IMMEDIATE`, so that what they read is already
//! under the write lock; on PostgreSQL the unique indexes (one charge per idempotency key, one
//! live charge per order), `FOR UPDATE` and conditional updates make races lose cleanly.
//!
//! Both backends run the same statements (ids are text on both); only the placeholder sigil
//! differs, which [`sql`] takes care of.

use std::borrow::Cow;

use brigade_chassis::db::{Backend, Db};
use brigade_chassis::events::Outbox;

/// Runs `$body` with `$tx` a write transaction on whichever engine `$db` is, and `$backend`
/// naming it. The body is expanded once per engine, so it is written once and type-checked
/// against both; returning early (or `?`) rolls the transaction back.
macro_rules! write_transaction {
    ($db:expr, |$tx:ident, $backend:ident| $body:block) => {
        match $db {
            Db::Sqlite(pool) => {
                let $backend = Backend::Sqlite;
                // Deferred transactions would take the write lock at their first write, after
                // their reads: two of them could read the same state and both act on it.
                let mut $tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                $body
            }
            Db::Postgres(pool) => {
                let $backend = Backend::Postgres;
                let mut $tx = pool.begin().await?;
                $body
            }
        }
    };
}

/// Runs `$body` with `$tx` a read-only transaction seeing one snapshot of the store.
macro_rules! read_transaction {
    ($db:expr, |$tx:ident, $backend:ident| $body:block) => {
        match $db {
            Db::Sqlite(pool) => {
                let $backend = Backend::Sqlite;
                // In WAL mode a transaction reads one snapshot from its first read to its end.
                let mut $tx = pool.begin().await?;
                $body
            }
            Db::Postgres(pool) => {
                let $backend = Backend::Postgres;
                let mut $tx = pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?;
                $body
            }
        }
    };
}

/// Appends one [`ledger::Entry`] within the write transaction `$tx`; evaluates to the entry's id.
macro_rules! append_ledger {
    ($tx:ident, $backend:ident, $entry:expr) => {{
        let entry: &ledger::Entry = $entry;
        let id = uuid::Uuid::new_v4();
        if $backend == Backend::Postgres {
            // Serialises appends until commit, so that positions are taken in commit order and
            // a reader paging with `after` never skips an entry that committed late.
            sqlx::query(ledger::APPEND_LOCK).execute(&mut *$tx).await?;
        }
        sqlx::query(&sql($backend, ledger::APPEND))
            .bind(id.to_string())
            .bind(entry.charge_id.to_string())
            .bind(entry.order_id.to_string())
            .bind(entry.kind.as_str())
            .bind(entry.amount_minor)
            .bind(entry.currency.as_str())
            .bind(entry.at_ms)
            .execute(&mut *$tx)
            .await?;
        id
    }};
}

mod audit;
mod charges;
mod events;
mod ledger;
mod rows;

pub use charges::{NewCharge, Recorded, RefundError};
pub use rows::StoredCharge;

/// A failure of the store itself: the caller's input was fine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("payments store query failed: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("{id} in the store is unreadable: {reason}")]
    Corrupt { id: String, reason: String },
    #[error("the charge could not be recorded: concurrent requests kept winning the race")]
    Contended,
    #[error("charge {0} is declined without a decline code")]
    DeclinedWithoutCode(uuid::Uuid),
    #[error("the payments outbox failed: {0}")]
    Outbox(#[from] brigade_chassis::events::Error),
}

/// Charges and the ledger. Cheap to clone: a pool handle and the outbox's.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    outbox: Outbox,
}

impl Store {
    /// `db` must have [`crate::MIGRATIONS`] applied (which include the outbox's tables);
    /// `outbox` is woken after each commit that wrote an event.
    pub fn new(db: Db, outbox: Outbox) -> Store {
        Store { db, outbox }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// True once the pool is closed (the service is stopping).
    pub fn is_closed(&self) -> bool {
        match &self.db {
            Db::Sqlite(pool) => pool.is_closed(),
            Db::Postgres(pool) => pool.is_closed(),
        }
    }
}

/// `text` with its `$N` placeholders in the engine's syntax: SQLite's `?N` means the same.
/// Statements never contain a literal `$`.
fn sql(backend: Backend, text: &str) -> Cow<'_, str> {
    match backend {
        Backend::Postgres => Cow::Borrowed(text),
        Backend::Sqlite => Cow::Owned(text.replace('$', "?")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_engine() {
        let text = "SELECT 1 WHERE a = $1 AND b = $2";
        assert_eq!(sql(Backend::Postgres, text), text);
        assert_eq!(
            sql(Backend::Sqlite, text),
            "SELECT 1 WHERE a = ?1 AND b = ?2"
        );
    }
}
