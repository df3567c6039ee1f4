//! The events the users service publishes (through its outbox). Subject: the user id.
//!
//! Events are copied into other services' stores and into the event transport, so they carry
//! nothing secret: no password hash, no name. The one contact detail they carry is
//! `UserRegistered`'s email, because notifications must be able to email a shopper who never
//! opened their messages; a consumer that needs more asks the users service, with the user's own
//! token.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The service that publishes these events.
pub const SOURCE: &str = "users";

/// An account was created (sign-up). Published once per account, in the transaction that
/// creates it; a sign-up refused because the email is taken publishes nothing.
///
/// Version 2 added `email`; version 1 events (published before it, possibly still in an outbox
/// or a feed) are read as well, without it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRegistered {
    pub user_id: Uuid,
    /// When the account was created, in Unix milliseconds (the account's `created_at_ms`).
    pub registered_at_ms: u64,
    /// The account's email address (normalised as users stores it), where notifications sends
    /// the shopper's messages. Always present from version 2; absent in version 1 events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

brigade_chassis::declare_events!(
    source: SOURCE,
    subject: user_id,
    UserRegistered: 2 (reads from 1),
);
