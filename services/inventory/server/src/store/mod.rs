//! The inventory's store: stock per SKU and reservations, on SQLite or PostgreSQL.
//!
//! **The promise:** for every SKU, `held + committed <= stock`, and `held` and `committed` equal
//! the sums of the SKU's lines in held and committed reservations. Every change of a reservation
//! and of the counters it moves happens in one transaction, which locks what it reads first:
//! SQLite's write lock from the start (`BEGIN IMMEDIATE`), or on PostgreSQL the reservation row
//! and then the stock rows, always in SKU order, so that concurrent transactions queue instead of
//! deadlocking. The schema's CHECKs refuse any statement that would break the first half.
//!
//! Every change of a SKU's counters is announced (`StockChanged`, with the counters as the change
//! left them) through the outbox, in the change's transaction, right after the statement that
//! changed the SKU's row ([`events`]): a change that did not happen announces nothing.
//!
//! Times are passed in (`now_ms`) rather than read here, so that tests can drive expiry.

mod audit;
mod events;
mod expiry;
mod reservations;
mod rows;
mod stock;

use inventory_api::{Reservation, ShortLine};

pub(crate) use brigade_chassis::db::Tx;
pub(crate) use events::stock_changed;
pub(crate) use reservations::{release_in, Released};

/// A failure of the store itself: the caller's input was fine.
pub type Error = brigade_chassis::db::StoreError;

/// What a reservation request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserved {
    /// This request reserved the units.
    Now(Reservation),
    /// The order had reserved these lines before; the reservation as it is now (perhaps
    /// committed, released or expired since).
    Before(Reservation),
}

/// Why a reservation request reserved nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReserveError {
    #[error("the order has a reservation with other lines")]
    Mismatch { existing: Reservation },
    #[error("not enough stock")]
    OutOfStock { short: Vec<ShortLine> },
    #[error("unknown SKUs: {}", .0.join(", "))]
    UnknownSkus(Vec<String>),
    #[error(transparent)]
    Store(#[from] Error),
}

/// Why a commit did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("no reservation for the order")]
    NotFound,
    /// The reservation had been released or had expired, and its units are no longer there.
    #[error("the reservation is {} and its units are gone", .reservation.status)]
    Gone {
        reservation: Reservation,
        short: Vec<ShortLine>,
    },
    #[error(transparent)]
    Store(#[from] Error),
}

/// Why a release did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("no reservation for the order")]
    NotFound,
    #[error("the reservation is committed")]
    AlreadyCommitted(Reservation),
    #[error(transparent)]
    Store(#[from] Error),
}

/// Why a SKU's stock was not set.
#[derive(Debug, thiserror::Error)]
pub enum SetStockError {
    #[error("stock {wanted} is below the {held} units held and {committed} sold")]
    BelowReserved {
        wanted: u64,
        held: u64,
        committed: u64,
    },
    #[error(transparent)]
    Store(#[from] Error),
}

/// Whether setting a SKU's stock created it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockSet {
    Created,
    Updated,
}

brigade_chassis::store_handle! {
    /// The inventory's data. Cheap to clone: a pool handle and the outbox's.
    pub struct Store with outbox;
}

impl Store {}

/// The SKU-ordered copy of `items`: the order in which every transaction locks stock rows.
fn by_sku<T: Clone>(items: &[T], sku: impl Fn(&T) -> &str) -> Vec<T> {
    let mut sorted = items.to_vec();
    sorted.sort_by(|a, b| sku(a).cmp(sku(b)));
    sorted
}

/// Fails unless a guarded statement changed exactly the rows it was meant to. Under the locks
/// taken, a guard that does not hold means the counters disagree with what was just read.
fn expect_changed(changed: u64, expected: u64, what: impl FnOnce() -> String) -> Result<(), Error> {
    if changed == expected {
        Ok(())
    } else {
        Err(Error::corrupt(
            what(),
            format!("a guarded update changed {changed} rows instead of {expected}"),
        ))
    }
}
