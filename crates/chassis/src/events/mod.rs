//! Events: what a service announces happened, delivered to the services that react.
//!
//! The producer writes each event into its own store's outbox table **in the same transaction as
//! the change** ([`Outbox::append`]), so a committed change always has its event and a rolled-back
//! one never does. A relay in every instance of the producer then makes committed events
//! available to consumers through one of two transports, chosen by `--events`:
//!
//! - **embedded** (the default, no broker): the relay gives each committed event a position in
//!   commit order, and the producer serves its outbox as a feed (`GET /v1/events/feed`);
//!   consumers read it through discovery and keep their position in their own store.
//! - **NATS JetStream**: the relay publishes each event to the producer's stream with the event id
//!   as message id (JetStream drops the duplicates a re-publishing relay makes); consumers share a
//!   durable consumer per service, acknowledge explicitly, and get a bounded number of deliveries.
//!
//! A consumer ([`Subscription`]) applies each event's effect once in effect: the effect, the
//! record that the event was applied (the subject's sequence number, and on the embedded
//! transport the feed position) are written in one transaction of the consumer's store, so a
//! crash anywhere repeats the delivery, never the effect. Events of one subject are applied in
//! the order they were produced. An event that keeps failing is parked with its error (and so are
//! later events of the same subject, to keep their order); the others flow on. Parked events are
//! listed and replayed through `GET /v1/events/parked` and `POST /v1/events/parked/{id}/replay`
//! (`brigade events parked`, `brigade events replay ID`).
//!
//! **Architecture invariant:** the outbox in the producer's store is the source of truth. Neither
//! transport is trusted to keep an event that the outbox does not also hold.
//!
//! The envelope, the [`Event`] trait and the wire types are the light part that a contract crate
//! needs; the rest is the back end that services run (feature `service`).

#[cfg(feature = "service")]
mod consumer;
#[cfg(feature = "service")]
mod embedded;
mod envelope;
#[cfg(feature = "service")]
mod feed;
#[cfg(feature = "service")]
mod inbox;
#[cfg(feature = "service")]
mod nats;
#[cfg(feature = "service")]
mod outbox;
#[cfg(feature = "service")]
mod relay;
#[cfg(feature = "service")]
mod store_handle;
mod wire;

use std::time::Duration;

pub use envelope::{Envelope, Event, SPEC_VERSION};
pub use wire::{FeedItem, FeedPage, Parked, ParkedList, Replayed};

#[cfg(feature = "service")]
pub use consumer::{Consumers, Handle, Handled, HandlerError, Subscription};
#[cfg(feature = "service")]
pub(crate) use embedded::consume as consume_feed;
#[cfg(feature = "service")]
pub(crate) use feed::{feed_routes, parked_routes};
#[cfg(feature = "service")]
pub use inbox::{ApplyError, ApplyOutcome, Inbox};
#[cfg(feature = "service")]
pub use nats::Nats;
#[cfg(feature = "service")]
pub use outbox::{stored_events, Outbox, INBOX_MIGRATION, OUTBOX_MIGRATION};
#[cfg(feature = "service")]
pub use relay::Relay;

/// Which transport carries events between services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// Consumers read producers' outbox feeds through discovery; no broker.
    Embedded,
    /// NATS JetStream at this URL (nats://host:port).
    Nats { url: String },
}

impl Transport {
    /// Parses `--events`: `embedded` or a `nats://` URL.
    pub fn parse(value: &str) -> Result<Transport, Error> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("embedded") {
            Ok(Transport::Embedded)
        } else if value.starts_with("nats://") || value.starts_with("tls://") {
            Ok(Transport::Nats {
                url: value.to_owned(),
            })
        } else {
            Err(Error::Config(format!(
                "--events `{value}` must be `embedded` or a NATS URL such as nats://127.0.0.1:4222"
            )))
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Transport::Embedded => "embedded",
            Transport::Nats { .. } => "nats",
        }
    }
}

/// Tuning shared by producers and consumers; the defaults suit `brigade up`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Names the NATS streams and subjects (`NAMESPACE_SOURCE`, `namespace.source.type`), so that
    /// several systems can share one NATS server.
    pub namespace: String,
    /// How often an idle relay looks for events committed by another instance (or by one that
    /// died before relaying them).
    pub relay_interval: Duration,
    /// Deliveries of a failing event before it is parked.
    pub max_attempts: u32,
    /// First pause between attempts; doubled each time, capped at 5 s.
    pub retry_backoff: Duration,
    /// JetStream: how long a delivered event may stay unacknowledged before it is delivered again.
    pub ack_wait: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            namespace: "brigade".to_owned(),
            relay_interval: Duration::from_millis(100),
            max_attempts: 5,
            retry_backoff: Duration::from_millis(100),
            ack_wait: Duration::from_secs(30),
        }
    }
}

/// Why the events machinery failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid events configuration: {0}")]
    Config(String),
    #[cfg(feature = "service")]
    #[error("events store query failed: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("event payload cannot be encoded: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("NATS: {0}")]
    Nats(String),
    #[error("the event feed of {source_service} could not be read: {detail}")]
    Feed {
        source_service: String,
        detail: String,
    },
    /// The service consumes or publishes events beyond its `DEPENDS_ON`.
    #[error(transparent)]
    Undeclared(#[from] crate::dependencies::Undeclared),
    #[error("no parked event with id `{0}`")]
    NotParked(String),
    #[error("replaying parked event {id} failed again: {error}")]
    ReplayFailed { id: String, error: String },
}

/// The outbox failing inside a service's store transaction is the store failing.
#[cfg(feature = "service")]
impl From<Error> for crate::db::StoreError {
    fn from(error: Error) -> crate::db::StoreError {
        crate::db::StoreError::Outbox(Box::new(error))
    }
}

#[cfg(feature = "service")]
impl Error {
    pub(crate) fn nats(error: impl std::fmt::Display) -> Error {
        Error::Nats(error.to_string())
    }
}

#[cfg(feature = "service")]
/// The NATS stream that holds `source`'s events.
pub(crate) fn stream_name(namespace: &str, source: &str) -> String {
    format!("{namespace}_{source}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(feature = "service")]
/// The NATS subject an event of `event_type` from `source` is published on.
pub(crate) fn nats_subject(namespace: &str, source: &str, event_type: &str) -> String {
    format!("{namespace}.{source}.{event_type}")
}

#[cfg(feature = "service")]
/// A subscription's name: the durable consumer the instances of `consumer` share to read
/// `source` on JetStream, and the `subscription` label of its metrics on either transport.
pub(crate) fn subscription_name(consumer: &str, source: &str) -> String {
    format!("{consumer}-{source}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(feature = "service")]
/// Pause before attempt `attempt` (1-based) of something failing: exponential, capped at 5 s.
pub(crate) fn backoff(base: Duration, attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    (base * factor).min(Duration::from_secs(5))
}
