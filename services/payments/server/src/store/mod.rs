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

mod audit;
mod charges;
mod events;
mod ledger;
mod rows;

pub use charges::{NewCharge, Recorded, RefundError};
pub use rows::StoredCharge;

/// A failure of the store itself: the caller's input was fine.
pub type Error = brigade_chassis::db::StoreError;

brigade_chassis::store_handle! {
    /// Charges and the ledger. Cheap to clone: a pool handle and the outbox's.
    pub struct Store with outbox;
}

impl Store {}
