//! The notifications service's contract: the messages Brigade writes each shopper (an order
//! confirmed or cancelled, a refund, a shipment) and how a shopper reads them. Callers (the
//! gateway, the storefront) depend on this crate, never on the server.
//!
//! - [`Message`], [`MessageKind`], [`Delivery`], [`MessagePage`]: what goes over the wire;
//! - [`ListMessages::validate`]: the input rules, shared so that an edge can refuse bad input with
//!   the service's own words before it costs a hop (a path's message id is the chassis'
//!   `PathUuid`);
//! - [`NotificationsClient`]: the typed client, which calls on a shopper's behalf with their
//!   token.
//!
//! Every route needs the shopper's access token; a shopper only ever sees their own messages,
//! so the listing's path carries no user id, and another shopper's message is a 404.

#![forbid(unsafe_code)]

mod client;
mod rules;
mod types;

pub use client::NotificationsClient;
pub use rules::{ListMessages, ValidationError};
pub use types::{Delivery, Message, MessageKind, MessagePage};

/// The service's routes, shared by the server's router and the client so that they cannot drift.
pub mod paths {
    /// `GET`: one page of the signed-in shopper's messages, newest first
    /// ([`crate::ListMessages`] as the query string).
    pub const MESSAGES: &str = "/v1/messages";
    /// The router's pattern for one message.
    pub const MESSAGE_PATTERN: &str = "/v1/messages/{id}";

    /// `GET`: one of the signed-in shopper's messages.
    pub fn message(id: uuid::Uuid) -> String {
        format!("/v1/messages/{id}")
    }

    brigade_chassis::uuid_parameter!(
        /// The `id` of `MESSAGE_PATTERN`, read by the chassis' `PathUuid`.
        pub MessageId = "id", "a message id"
    );
}
