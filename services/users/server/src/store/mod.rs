//! The users service's store: accounts and signing keys, on SQLite or PostgreSQL, and the events
//! they announce (`UserRegistered`), written to the outbox in the transaction of the change.
//!
//! Both backends run the same statements through the chassis' `Query` (`?` placeholders, which it
//! numbers for PostgreSQL); ids are text on both, and times are integer Unix milliseconds. Only
//! the way a key transaction takes its lock differs (`keys::begin_keys_transaction`).

mod keys;
mod users;

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
    #[error(transparent)]
    Sealing(#[from] crate::sealing::Error),
}

brigade_chassis::store_handle! {
    /// Accounts and signing keys. Cheap to clone: a pool handle and the outbox's.
    pub struct Store with outbox;
}

/// A stored millisecond time, which the service only ever writes from a `u64`.
fn time_ms(value: i64, what: &str) -> Result<u64, Error> {
    u64::try_from(value).map_err(|_| Error::Corrupt(format!("{what} is negative ({value})")))
}

/// A millisecond time to store: the service's times fit an `i64` for 290 million years.
fn stored_ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
