//! OTLP log records in and out of the [`LogStore`](super::LogStore): `POST /v1/logs` reads an
//! export into lines kept beside the supervisor's, and the telemetry file writes the kept lines
//! back as exports. The mapping, both ways:
//!
//! | line | OTLP |
//! |---|---|
//! | `service` | resource `service.name` (`unknown_service` when absent) |
//! | `instance` | resource `service.instance.id` `SERVICE-N`; any other id is kept in `instance_id` with instance 0 |
//! | `time` | `timeUnixNano`, else `observedTimeUnixNano`, else when it was received |
//! | `level` | `severityNumber` (1-4 trace … 17-24 error), else `severityText`; neither: a text line |
//! | `message` | `body` (a string; any other value as JSON), cut to the store's line cap |
//! | `target` | the instrumentation scope's name |
//! | `trace_id`, `span_id` | `traceId`, `spanId` (hex); all zeros is none |
//! | `stream` | attribute `log.iostream` (`stdout`, `stderr`), else `otlp` |
//! | `fields` | the other attributes |
//!
//! A record whose trace id is not 16 bytes or span id not 8 is refused (a partial success).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::{Map, Value};

use super::{Level, LogLine, Source};
use crate::otlp::{hex, last_or_push, service_of, string_attribute, text_attribute, unhex};

/// The semantic conventions' attribute for the stream a line was written on.
const IOSTREAM: &str = "log.iostream";

/// How many lines one exported request holds.
pub const LINES_PER_EXPORT: usize = 1_000;

/// Why a record is refused.
pub fn record_problem(record: &LogRecord) -> Option<&'static str> {
    if !matches!(record.trace_id.len(), 0 | 16) {
        return Some("a trace id is 16 bytes");
    }
    if !matches!(record.span_id.len(), 0 | 8) {
        return Some("a span id is 8 bytes");
    }
    None
}

/// The lines of an export (not yet numbered), each message cut to `line_bytes`; and how many
/// records were refused.
pub fn lines_of(request: ExportLogsServiceRequest, line_bytes: usize) -> (Vec<LogLine>, usize) {
    let received = SystemTime::now();
    let mut lines = Vec::new();
    let mut rejected = 0;
    for resource_logs in request.resource_logs {
        let resource = resource_logs.resource.unwrap_or_default();
        let service = service_of(&resource);
        let (instance, instance_id) =
            match string_attribute(&resource.attributes, "service.instance.id") {
                Some(id) => match slot_number(&service, &id) {
                    Some(n) => (n, None),
                    None => (0, Some(id)),
                },
                None => (0, None),
            };
        for scope_logs in resource_logs.scope_logs {
            let target = scope_logs
                .scope
                .map(|scope| scope.name)
                .filter(|name| !name.is_empty());
            for record in scope_logs.log_records {
                if record_problem(&record).is_some() {
                    rejected += 1;
                    continue;
                }
                let mut line = line_of(record, received, line_bytes);
                line.service = service.clone();
                line.instance = instance;
                line.instance_id = instance_id.clone();
                line.target = target.clone();
                lines.push(line);
            }
        }
    }
    (lines, rejected)
}

/// `3` for `catalog-3` of `catalog`: the slots `brigade up` names.
fn slot_number(service: &str, instance_id: &str) -> Option<u32> {
    instance_id
        .strip_prefix(service)?
        .strip_prefix('-')?
        .parse()
        .ok()
        .filter(|n| *n > 0)
}

fn line_of(record: LogRecord, received: SystemTime, line_bytes: usize) -> LogLine {
    let nanos = [record.time_unix_nano, record.observed_time_unix_nano]
        .into_iter()
        .find(|t| *t > 0);
    let time = nanos.map_or_else(
        || humantime::format_rfc3339_millis(received).to_string(),
        rfc3339,
    );
    let level = match record.severity_number {
        1..=4 => Some(Level::Trace),
        5..=8 => Some(Level::Debug),
        9..=12 => Some(Level::Info),
        13..=16 => Some(Level::Warn),
        17..=24 => Some(Level::Error),
        _ => Level::parse(&record.severity_text),
    };
    let message = match record.body.and_then(|body| body.value) {
        Some(any_value::Value::StringValue(text)) => text,
        Some(other) => to_json(&other).to_string(),
        None => String::new(),
    };
    let mut stream = Source::Otlp;
    let mut fields = Map::new();
    for attribute in record.attributes {
        let value = attribute
            .value
            .and_then(|v| v.value)
            .map_or(Value::Null, |v| to_json(&v));
        match (attribute.key.as_str(), &value) {
            (IOSTREAM, Value::String(name)) if name == "stdout" => stream = Source::Stdout,
            (IOSTREAM, Value::String(name)) if name == "stderr" => stream = Source::Stderr,
            _ => {
                fields.insert(attribute.key, value);
            }
        }
    }
    if !record.event_name.is_empty() {
        fields.insert("event.name".to_owned(), Value::String(record.event_name));
    }
    LogLine {
        seq: 0,
        service: String::new(),
        instance: 0,
        instance_id: None,
        stream,
        time,
        level,
        message: super::store::cut(&message, line_bytes).to_owned(),
        trace_id: id_text(&record.trace_id),
        span_id: id_text(&record.span_id),
        target: None,
        fields,
        text: level.is_none(),
    }
}

/// An id as lower-case hex; none when it is empty or all zeros (invalid per W3C).
fn id_text(bytes: &[u8]) -> Option<String> {
    bytes.iter().any(|b| *b != 0).then(|| hex(bytes))
}

/// Nanoseconds since the epoch in RFC 3339, as precise as they need but at least to the
/// millisecond (what a line renders), so that the chassis's microsecond timestamps come back as
/// they were written.
fn rfc3339(nanos: u64) -> String {
    let time = UNIX_EPOCH + Duration::from_nanos(nanos);
    if nanos % 1_000_000 == 0 {
        humantime::format_rfc3339_millis(time).to_string()
    } else if nanos % 1_000 == 0 {
        humantime::format_rfc3339_micros(time).to_string()
    } else {
        humantime::format_rfc3339_nanos(time).to_string()
    }
}

fn unix_nanos(time: &str) -> u64 {
    humantime::parse_rfc3339_weak(time)
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| u64::try_from(d.as_nanos()).ok())
        .unwrap_or(0)
}

/// Kept lines as OTLP exports of at most [`LINES_PER_EXPORT`] lines each, in their order:
/// consecutive lines of one instance and target share a resource and a scope.
pub fn exports_of(lines: &[LogLine]) -> Vec<ExportLogsServiceRequest> {
    lines
        .chunks(LINES_PER_EXPORT)
        .map(|chunk| {
            let mut resource_logs: Vec<ResourceLogs> = Vec::new();
            for line in chunk {
                let resource = resource_of(line);
                let scope = InstrumentationScope {
                    name: line.target.clone().unwrap_or_default(),
                    ..Default::default()
                };
                let group = last_or_push(
                    &mut resource_logs,
                    |r| r.resource.as_ref() == Some(&resource),
                    || ResourceLogs {
                        resource: Some(resource.clone()),
                        ..Default::default()
                    },
                );
                let scope_logs = last_or_push(
                    &mut group.scope_logs,
                    |s| s.scope.as_ref() == Some(&scope),
                    || ScopeLogs {
                        scope: Some(scope.clone()),
                        ..Default::default()
                    },
                );
                scope_logs.log_records.push(record_of(line));
            }
            ExportLogsServiceRequest { resource_logs }
        })
        .collect()
}

fn resource_of(line: &LogLine) -> Resource {
    let instance_id = match &line.instance_id {
        Some(id) => Some(id.clone()),
        None if line.instance > 0 => Some(format!("{}-{}", line.service, line.instance)),
        None => None,
    };
    let mut attributes = vec![text_attribute("service.name", &line.service)];
    if let Some(id) = instance_id {
        attributes.push(text_attribute("service.instance.id", &id));
    }
    Resource {
        attributes,
        ..Default::default()
    }
}

fn record_of(line: &LogLine) -> LogRecord {
    let nanos = unix_nanos(&line.time);
    let mut attributes: Vec<KeyValue> = line
        .fields
        .iter()
        .filter(|(key, _)| key.as_str() != "event.name")
        .map(|(key, value)| KeyValue {
            key: key.clone(),
            value: Some(from_json(value)),
            ..Default::default()
        })
        .collect();
    match line.stream {
        Source::Stdout => attributes.push(text_attribute(IOSTREAM, "stdout")),
        Source::Stderr => attributes.push(text_attribute(IOSTREAM, "stderr")),
        Source::Otlp => {}
    }
    let (severity_number, severity_text) = match line.level {
        Some(level) => (severity_number(level), level.label().to_owned()),
        None => (0, String::new()),
    };
    LogRecord {
        time_unix_nano: nanos,
        observed_time_unix_nano: nanos,
        severity_number,
        severity_text,
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(line.message.clone())),
        }),
        attributes,
        trace_id: line
            .trace_id
            .as_deref()
            .and_then(|id| unhex(id, 16))
            .unwrap_or_default(),
        span_id: line
            .span_id
            .as_deref()
            .and_then(|id| unhex(id, 8))
            .unwrap_or_default(),
        event_name: line
            .fields
            .get("event.name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        ..Default::default()
    }
}

/// The first severity number of each range (`TRACE` 1, `DEBUG` 5, `INFO` 9, `WARN` 13,
/// `ERROR` 17).
fn severity_number(level: Level) -> i32 {
    match level {
        Level::Trace => 1,
        Level::Debug => 5,
        Level::Info => 9,
        Level::Warn => 13,
        Level::Error => 17,
    }
}

/// An attribute's value as JSON: bytes as hex, maps as objects.
pub fn to_json(value: &any_value::Value) -> Value {
    let of = |v: &AnyValue| v.value.as_ref().map_or(Value::Null, to_json);
    match value {
        any_value::Value::StringValue(s) => Value::String(s.clone()),
        any_value::Value::BoolValue(b) => Value::Bool(*b),
        any_value::Value::IntValue(i) => Value::from(*i),
        any_value::Value::DoubleValue(d) => Value::from(*d),
        any_value::Value::ArrayValue(array) => Value::Array(array.values.iter().map(of).collect()),
        any_value::Value::KvlistValue(list) => Value::Object(
            list.values
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.as_ref().map_or(Value::Null, of)))
                .collect(),
        ),
        any_value::Value::BytesValue(bytes) => Value::String(hex(bytes)),
        // Meaningful only in profiles; the specification says to read it as empty elsewhere.
        any_value::Value::StringValueStrindex(_) => Value::Null,
    }
}

/// A JSON field as an attribute's value: whole numbers as ints, null as an empty value.
fn from_json(value: &Value) -> AnyValue {
    let value = match value {
        Value::Null => None,
        Value::Bool(b) => Some(any_value::Value::BoolValue(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Some(any_value::Value::IntValue(i)),
            None => Some(any_value::Value::DoubleValue(
                n.as_f64().unwrap_or_default(),
            )),
        },
        Value::String(s) => Some(any_value::Value::StringValue(s.clone())),
        Value::Array(items) => Some(any_value::Value::ArrayValue(ArrayValue {
            values: items.iter().map(from_json).collect(),
        })),
        Value::Object(map) => Some(any_value::Value::KvlistValue(KeyValueList {
            values: map
                .iter()
                .map(|(key, value)| KeyValue {
                    key: key.clone(),
                    value: Some(from_json(value)),
                    ..Default::default()
                })
                .collect(),
        })),
    };
    AnyValue { value }
}
