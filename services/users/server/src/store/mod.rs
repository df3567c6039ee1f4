//! The users service's store: accounts and signing keys, on SQLite or PostgreSQL, and the events
//! they announce (`UserRegistered`), written to the outbox in the transaction of the change.
//!
//! Both backends read the same SQL: `$1`-style placeholders work on both (SQLite takes `$NNN` as
//! the NNN-th parameter; statements run through the chassis' `on_conn!` use `?`, which it numbers
//! for PostgreSQL), ids are text on both, and times are integer Unix milliseconds. Only the way a
//! key transaction takes its lock differs ([`keys_transaction!`]).

mod keys;
mod users;

use brigade_chassis::db::Db;
use brigade_chassis::events::Outbox;

pub use keys::StoredKey;
pub use users::{Account, CreateError, NewAccount};

/// A failure of the store itself: the caller's input was fine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("users store query failed: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("a row in the users store is unreadable: {0}")]
    Corrupt(String),
    #[error("cannot make a signing key: {0}")]
    Key(#[from] brigade_chassis::auth::SigningError),
    #[error("the users outbox failed: {0}")]
    Outbox(#[from] brigade_chassis::events::Error),
}

/// Accounts and signing keys. Cheap to clone: a pool handle and the outbox's.
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
}

/// Runs `$body` with `$pool` bound to the pool of either backend. The body is compiled once per
/// backend, so the same query code serves both.
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            brigade_chassis::db::Db::Sqlite($pool) => $body,
            brigade_chassis::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Runs `$body` in a transaction that holds the signing keys' write lock from its first
/// statement, and commits it; an early return (`?`) rolls it back. The lock makes a
/// read-then-write (is there an active key? is it old enough to rotate?) safe when several
/// instances do it at once: SQLite's `BEGIN IMMEDIATE` takes the database's write lock before the
/// first read (a deferred `BEGIN` would let two readers both decide, then one fail to write);
/// PostgreSQL's SHARE ROW EXCLUSIVE conflicts with itself and with every write, and each statement
/// after it sees what the previous holder committed.
macro_rules! keys_transaction {
    ($db:expr, |$tx:ident| $body:block) => {
        match $db {
            brigade_chassis::db::Db::Sqlite(pool) => {
                let mut $tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            brigade_chassis::db::Db::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                sqlx::query("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
                    .execute(&mut *$tx)
                    .await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}
pub(crate) use keys_transaction;

/// A stored millisecond time, which the service only ever writes from a `u64`.
fn time_ms(value: i64, what: &str) -> Result<u64, Error> {
    u64::try_from(value).map_err(|_| Error::Corrupt(format!("{what} is negative ({value})")))
}

/// A millisecond time to store: the service's times fit an `i64` for 290 million years.
fn stored_ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
