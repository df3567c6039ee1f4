//! The events the users service publishes (through its outbox). Subject: the user id.
//!
//! Events are copied into other services' stores and into the event transport, so they carry
//! nothing secret: no email, no name, no password hash. A consumer that needs more asks the
//! users service, with the user's own token.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The service that publishes these events.
pub const SOURCE: &str = "users";

/// An account was created (sign-up). Published once per account, in the transaction that
/// creates it; a sign-up refused because the email is taken publishes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRegistered {
    pub user_id: Uuid,
    /// When the account was created, in Unix milliseconds (the account's `created_at_ms`).
    pub registered_at_ms: u64,
}

brigade_chassis::declare_events!(
    source: SOURCE,
    subject: user_id,
    UserRegistered: 1,
);
