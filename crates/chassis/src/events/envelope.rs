//! The envelope every event travels in, with CloudEvents 1.0 attribute names (JSON format), so
//! that tools that know CloudEvents can read Brigade's events as they are.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The CloudEvents specification version the envelope follows.
pub const SPEC_VERSION: &str = "1.0";

/// An event type owned by the service that publishes it. Its payload is versioned: every change
/// of the payload gets a new `VERSION`, which each event carries (`schemaversion`). A change that
/// old consumers could misread gets, usually, a new type as well. A change that only adds
/// members, optional with a default, keeps older payloads readable: the type says so with
/// `OLDEST_READABLE`, and its consumers apply the events of those versions still in outboxes
/// and feeds instead of parking them.
///
/// A consumer refuses (parks) a version newer than the one it was built with, so consumers are
/// upgraded before their producer; an event parked that way is replayed once they are.
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The publishing service (`orders`).
    const SOURCE: &'static str;
    /// The type's short name (`OrderConfirmed`).
    const NAME: &'static str;
    /// The payload's schema version: the one this build publishes, and the newest it reads.
    const VERSION: u32;
    /// The oldest schema version whose payloads this type still reads (`VERSION` unless a
    /// version only added optional members).
    const OLDEST_READABLE: u32 = Self::VERSION;

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
/// such as `product.id` too). `Type: 2 (reads from 1)` declares a version that only added
/// optional members, whose consumers still read version 1 ([`Event::OLDEST_READABLE`]).
///
/// ```ignore
/// brigade_chassis::declare_events!(
///     source: SOURCE,
///     subject: order_id,
///     OrderPlaced: 1,
///     OrderConfirmed: 2 (reads from 1),
/// );
/// ```
#[macro_export]
macro_rules! declare_events {
    (source: $source:expr, subject: $($field:ident).+,
     $($event:ident: $version:literal $((reads from $oldest:literal))?),+ $(,)?) => {
        $crate::declare_events!(@each $source, ($($field).+), $($event: $version ($($oldest)?)),+);
    };
    // The subject's path travels as one token tree, so that it can be repeated for each event.
    (@each $source:expr, $subject:tt, $($event:ident: $version:literal $oldest:tt),+) => {
        $($crate::declare_events!(@one $source, $subject, $event, $version, $oldest);)+
    };
    (@one $source:expr, ($($field:ident).+), $event:ident, $version:literal,
     ($($oldest:literal)?)) => {
        impl $crate::events::Event for $event {
            const SOURCE: &'static str = $source;
            const NAME: &'static str = stringify!($event);
            const VERSION: u32 = $version;
            $(const OLDEST_READABLE: u32 = $oldest;)?
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

    /// Reads an envelope as it arrives from a broker (a JetStream message's payload): the one
    /// parse of bytes into an envelope, public so that the fuzz targets (`fuzz/`) drive it too.
    pub fn from_json(bytes: &[u8]) -> Result<Envelope, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Reads the payload as `E`, refusing a schema version this build does not read (newer than
    /// `E::VERSION`, or older than `E::OLDEST_READABLE`).
    pub fn decode<E: Event>(&self) -> Result<E, String> {
        if !(E::OLDEST_READABLE..=E::VERSION).contains(&self.schemaversion) {
            let reads = if E::OLDEST_READABLE == E::VERSION {
                format!("version {}", E::VERSION)
            } else {
                format!("versions {} to {}", E::OLDEST_READABLE, E::VERSION)
            };
            return Err(format!(
                "{} has schema version {}, this consumer reads {reads}",
                self.event_type, self.schemaversion
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Version 1 had `id`; version 2 added `note`, optional, so it still reads version 1.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Noted {
        id: u32,
        #[serde(default)]
        note: Option<String>,
    }

    /// The same payload, declared without saying that it reads version 1.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Strict {
        id: u32,
    }

    crate::declare_events!(source: "test", subject: id, Noted: 2 (reads from 1), Strict: 2);

    fn at_version<E: Event>(event: &E, version: u32, data: serde_json::Value) -> Envelope {
        let mut envelope = Envelope::of(event, 1).unwrap();
        envelope.schemaversion = version;
        envelope.data = data;
        envelope
    }

    #[test]
    fn an_envelope_reads_back_from_the_bytes_a_broker_carries() {
        let envelope = Envelope::of(&Strict { id: 7 }, 3).unwrap();
        let bytes = serde_json::to_vec(&envelope).unwrap();
        assert_eq!(Envelope::from_json(&bytes).unwrap(), envelope);
        assert!(Envelope::from_json(br#"{"hello":"world"}"#).is_err());
    }

    /// A payload's numbers cross unchanged, to the last digit (a fuzzing finding: without
    /// serde_json's float_roundtrip, 1.7649792000077774e90 read back as …77e90).
    #[test]
    fn a_payloads_numbers_read_back_exactly() {
        let mut envelope = Envelope::of(&Strict { id: 7 }, 3).unwrap();
        envelope.data = serde_json::json!({ "id": 7, "at": 1.764_979_200_007_777_4e90_f64 });
        let bytes = serde_json::to_vec(&envelope).unwrap();
        let again = Envelope::from_json(&bytes).unwrap();
        assert_eq!(again, envelope);
        assert_eq!(serde_json::to_vec(&again).unwrap(), bytes);
    }

    #[test]
    fn a_type_reads_the_versions_it_declares_and_refuses_the_others() {
        assert_eq!((Noted::OLDEST_READABLE, Noted::VERSION), (1, 2));
        assert_eq!(Strict::OLDEST_READABLE, Strict::VERSION);
        let noted = Noted {
            id: 1,
            note: Some("hi".into()),
        };
        assert_eq!(
            Envelope::of(&noted, 1).unwrap().decode::<Noted>(),
            Ok(noted)
        );
        // An event published before `note` existed, still in an outbox: read, without it.
        let old = at_version(&Strict { id: 7 }, 1, serde_json::json!({"id": 7}));
        assert_eq!(old.decode::<Noted>(), Ok(Noted { id: 7, note: None }));
        let refused = old.decode::<Strict>().unwrap_err();
        assert!(
            refused.contains("schema version 1, this consumer reads version 2"),
            "{refused}"
        );
        // A version from a newer producer is never guessed at.
        let newer = at_version(&Strict { id: 7 }, 3, serde_json::json!({"id": 7}));
        let refused = newer.decode::<Noted>().unwrap_err();
        assert!(refused.contains("reads versions 1 to 2"), "{refused}");
    }
}
