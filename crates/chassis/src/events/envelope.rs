//! The envelope every event travels in, with CloudEvents 1.0 attribute names (JSON format), so
//! that tools that know CloudEvents can read Brigade's events as they are.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The CloudEvents specification version the envelope follows.
pub const SPEC_VERSION: &str = "1.0";

/// An event type owned by the service that publishes it. Its payload is versioned: a change
/// that old consumers could misread gets a new `VERSION` (and, usually, a new type).
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The publishing service (`orders`).
    const SOURCE: &'static str;
    /// The type's short name (`OrderConfirmed`).
    const NAME: &'static str;
    /// The payload's schema version.
    const VERSION: u32;

    /// The aggregate the event is about (an order id, a product id): events of one subject are
    /// delivered in the order they were produced.
    fn subject(&self) -> String;

    /// The CloudEvents `type`: `brigade.SOURCE.NAME`.
    fn type_name() -> String {
        type_name(Self::SOURCE, Self::NAME)
    }
}

/// Declares events of one producer whose subject is one of their fields: each `Type: version`
/// becomes an [`Event`] named after its type, published by `source`, about `self.field` (a path
/// such as `product.id` too).
///
/// ```ignore
/// brigade_chassis::declare_events!(source: SOURCE, subject: order_id, OrderPlaced: 1, OrderConfirmed: 1);
/// ```
#[macro_export]
macro_rules! declare_events {
    (source: $source:expr, subject: $($field:ident).+, $($event:ident: $version:literal),+ $(,)?) => {
        $crate::declare_events!(@each $source, ($($field).+), $($event: $version),+);
    };
    // The subject's path travels as one token tree, so that it can be repeated for each event.
    (@each $source:expr, $subject:tt, $($event:ident: $version:literal),+) => {
        $($crate::declare_events!(@one $source, $subject, $event, $version);)+
    };
    (@one $source:expr, ($($field:ident).+), $event:ident, $version:literal) => {
        impl $crate::events::Event for $event {
            const SOURCE: &'static str = $source;
            const NAME: &'static str = stringify!($event);
            const VERSION: u32 = $version;
            fn subject(&self) -> String {
                self.$($field).+.to_string()
            }
        }
    };
}

pub(crate) fn type_name(source: &str, name: &str) -> String {
    format!("brigade.{source}.{name}")
}

/// One event as it is stored and delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Always [`SPEC_VERSION`].
    pub specversion: String,
    /// Unique per event: consumers and JetStream de-duplicate by it.
    pub id: String,
    /// `brigade.SOURCE.NAME`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The publishing service.
    pub source: String,
    /// The aggregate the event is about.
    pub subject: String,
    /// When the change committed (RFC 3339, UTC).
    pub time: String,
    /// Always `application/json`.
    pub datacontenttype: String,
    /// Extension: the payload's schema version.
    pub schemaversion: u32,
    /// Extension: this event's place among its subject's events (1, 2, …), which lets consumers
    /// keep per-subject order and recognise repeats.
    pub subjectseq: i64,
    /// Extension (CloudEvents distributed tracing): the trace the change was made in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    pub data: serde_json::Value,
}

impl Envelope {
    /// A new envelope for `event` (a fresh id, the current time and trace) as the
    /// `subjectseq`-th event of its subject. The outbox numbers subjects itself; tests of
    /// consumers build deliveries with this.
    pub fn of<E: Event>(event: &E, subjectseq: i64) -> Result<Envelope, serde_json::Error> {
        Ok(Envelope {
            specversion: SPEC_VERSION.to_owned(),
            id: uuid::Uuid::new_v4().to_string(),
            event_type: E::type_name(),
            source: E::SOURCE.to_owned(),
            subject: event.subject(),
            time: crate::time::now_rfc3339(),
            datacontenttype: "application/json".to_owned(),
            schemaversion: E::VERSION,
            subjectseq,
            traceparent: crate::context::current().map(|c| c.trace.to_traceparent()),
            data: serde_json::to_value(event)?,
        })
    }

    /// Reads the payload as `E`, refusing a schema version this build does not know.
    pub fn decode<E: Event>(&self) -> Result<E, String> {
        if self.schemaversion != E::VERSION {
            return Err(format!(
                "{} has schema version {}, this consumer reads version {}",
                self.event_type,
                self.schemaversion,
                E::VERSION
            ));
        }
        serde_json::from_value(self.data.clone())
            .map_err(|e| format!("{} payload is not readable: {e}", self.event_type))
    }

    /// Milliseconds between the event's `time` and now: how long it took to be applied.
    pub fn age(&self) -> Option<std::time::Duration> {
        let time =
            time::OffsetDateTime::parse(&self.time, &time::format_description::well_known::Rfc3339)
                .ok()?;
        let age = time::OffsetDateTime::now_utc() - time;
        age.try_into().ok()
    }
}
