//! The payments store: charges and the ledger on SQLite or PostgreSQL.
//!
//! Every change of a charge that moves money appends its ledger entry in the same transaction,
//! and every change the rest of the system hears about (a capture, a decline, a refund) its
//! event, through the outbox ([`events`]): a change that did not happen announces nothing.
//! Write transactions on SQLite begin with `BEGIN IMMEDIATE`, so that what they read is already
//! under the write lock; on PostgreSQL the unique indexes (one charge per idempotency key, one
//! live charge per order), `FOR UPDATE` and conditional updates make races lose cleanly.
//!
//! Both backends run the same statements (ids are text on both), through the chassis' `Query`.

use brigade_chassis::db::Db;
use brigade_chassis::events::Outbox;

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
        self.db.is_closed()
    }
}
