//! [`StoreError`]: what a service's store answers when the store itself fails.

/// A failure of a service's store itself: the caller's input was fine. A store with no failure
/// of its own uses it as its error (`pub type Error = StoreError;`); one that has more wraps it.
/// Handlers pass it on with `?`: it answers a 500 that is logged and shows nothing of it
/// ([`crate::problem::StoreFailure`]).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store query failed: {0}")]
    Sql(#[from] sqlx::Error),
    /// What the service wrote cannot be read back as it was written, or rows disagree.
    #[error("{what} in the store is corrupt: {reason}")]
    Corrupt { what: String, reason: String },
    /// A write kept losing the race with concurrent ones and gave up; the caller may try again.
    #[error("{0} could not be written: concurrent requests kept winning the race")]
    Contended(&'static str),
    /// Appending an event to the outbox failed (the events module, built on this one, converts
    /// its errors to this).
    #[error("the outbox failed: {0}")]
    Outbox(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// `what` (a row, a column of one) is unreadable for `reason`.
    pub fn corrupt(what: impl Into<String>, reason: impl ToString) -> StoreError {
        StoreError::Corrupt {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

impl crate::problem::StoreFailure for StoreError {}
