//! One instance's log line as the control plane keeps it: read from the chassis's JSON lines
//! (see `brigade_chassis::logging`), or kept as text when a line is not one (a panic message,
//! a line a library printed), and rendered for people as `time level message key=value`.

use std::time::SystemTime;

use serde_json::{Map, Value};

/// A line's level; ordered, so that a filter keeps a level and those above it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    /// `info`, `INFO`, `Warning`…: how tracing and people spell levels.
    pub fn parse(text: &str) -> Option<Level> {
        match text.to_ascii_lowercase().as_str() {
            "trace" => Some(Level::Trace),
            "debug" => Some(Level::Debug),
            "info" => Some(Level::Info),
            "warn" | "warning" => Some(Level::Warn),
            "error" => Some(Level::Error),
            _ => None,
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// The stream a line came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Stdout,
    Stderr,
    /// Posted to `/v1/logs` as an OTLP log record that named no stream (`log.iostream`).
    Otlp,
}

/// One stored line.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogLine {
    /// Its place in the store: increasing across every instance, the `after` cursor's unit.
    pub seq: u64,
    pub service: String,
    /// The instance's number in its service, as in the slot `catalog-2`; 0 for a line from an
    /// OTLP exporter whose `service.instance.id` is not of that form.
    pub instance: u32,
    /// That `service.instance.id`, when `instance` could not say it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    pub stream: Source,
    /// RFC 3339: the line's own timestamp, or when the control plane read a text line.
    pub time: String,
    /// `None` for a text line: it said nothing about its level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    /// The Rust module that logged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The event's own fields and its span's (`request_id`, `route`, `event_id`…).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub fields: Map<String, Value>,
    /// True when the line was not the chassis's JSON and is kept as it was written.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub text: bool,
}

/// Reads one line an instance wrote (already cut to the store's cap on a line's length).
pub fn parse(
    service: &str,
    instance: u32,
    stream: Source,
    raw: &str,
    received: SystemTime,
) -> LogLine {
    let mut line = LogLine {
        seq: 0,
        service: service.to_owned(),
        instance,
        instance_id: None,
        stream,
        time: humantime::format_rfc3339_millis(received).to_string(),
        level: None,
        message: String::new(),
        trace_id: None,
        span_id: None,
        target: None,
        fields: Map::new(),
        text: false,
    };
    let object = raw
        .trim_start()
        .starts_with('{')
        .then(|| serde_json::from_str::<Map<String, Value>>(raw).ok())
        .flatten();
    let Some(object) = object else {
        line.message = raw.to_owned();
        line.text = true;
        return line;
    };
    for (key, value) in object {
        match (key.as_str(), value) {
            ("timestamp", Value::String(time)) => line.time = time,
            ("level", Value::String(level)) => line.level = Level::parse(&level),
            ("message", Value::String(message)) => line.message = message,
            ("target", Value::String(target)) => line.target = Some(target),
            // The chassis's request and event spans carry the ids; their other fields are
            // worth keeping (request id, route, event id), the span's name is not.
            ("span", Value::Object(span)) => {
                for (key, value) in span {
                    match (key.as_str(), value) {
                        ("trace_id", Value::String(id)) => line.trace_id = Some(id),
                        ("span_id", Value::String(id)) => line.span_id = Some(id),
                        ("name", _) => {}
                        (_, value) => {
                            line.fields.insert(key, value);
                        }
                    }
                }
            }
            ("spans", _) | ("threadName", _) | ("threadId", _) => {}
            (_, value) => {
                line.fields.insert(key, value);
            }
        }
    }
    line
}

/// The module and the message of the chassis's line for each request served
/// (`brigade_chassis::http`), which `brigade up` keeps for `brigade logs` but does not print.
const SERVED_TARGET: &str = "brigade_chassis::http";
const SERVED_MESSAGE: &str = "served";

impl LogLine {
    /// Whether this is the chassis's line for one request served without an error: one per
    /// request per service, kept so that `brigade logs --trace` shows every service a request
    /// crossed, too many to print on a terminal under load.
    pub fn is_request_served(&self) -> bool {
        self.message == SERVED_MESSAGE && self.target.as_deref() == Some(SERVED_TARGET)
    }

    /// `12:04:05.123 INFO  message key=value trace_id=…`: what a person reads.
    pub fn render(&self) -> String {
        // RFC 3339 from tracing or humantime: the time of day is characters 11 to 23.
        let time = self.time.get(11..23).unwrap_or(&self.time);
        let level = self.level.map_or("-", Level::label);
        let mut out = format!("{time} {level:<5} {}", self.message);
        for (key, value) in &self.fields {
            out.push(' ');
            out.push_str(key);
            out.push('=');
            push_value(&mut out, value);
        }
        if let Some(trace_id) = &self.trace_id {
            out.push_str(" trace_id=");
            out.push_str(trace_id);
        }
        out
    }

    /// The text `--grep` looks in: the message and the fields as rendered.
    pub(crate) fn contains(&self, needle: &str) -> bool {
        self.message.contains(needle)
            || self.fields.iter().any(|(key, value)| {
                let mut text = format!("{key}=");
                push_value(&mut text, value);
                text.contains(needle)
            })
    }
}

/// A value as `key=value` shows it: strings bare unless they hold spaces or quotes.
fn push_value(out: &mut String, value: &Value) {
    match value {
        Value::String(text) if text.is_empty() || text.contains([' ', '"', '=']) => {
            out.push_str(&format!("{text:?}"));
        }
        Value::String(text) => out.push_str(text),
        other => out.push_str(&other.to_string()),
    }
}
