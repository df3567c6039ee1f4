//! A run's telemetry as a file, to keep it or to look at it elsewhere: JSON Lines in the format
//! of the OpenTelemetry Collector's file exporter, each line one `ExportTraceServiceRequest`
//! (`{"resourceSpans": …}`), `ExportLogsServiceRequest` (`{"resourceLogs": …}`) or
//! `ExportMetricsServiceRequest` (`{"resourceMetrics": …}`) in OTLP JSON: lowerCamelCase keys,
//! trace and span ids as hex, enums as integers, 64-bit integers (times, counts, `intValue`,
//! `asInt`) as decimal strings.
//!
//! - `GET /v1/telemetry/export`: everything the control plane keeps, streamed: one line per
//!   trace, then the log lines (1 000 a line, in order), then the metric series (100 a line).
//! - [`cli`]: `brigade telemetry export [--out FILE]` and `brigade telemetry import FILE`, which
//!   posts each line to the receivers (`/v1/traces`, `/v1/logs`, `/v1/metrics`). A file written
//!   by the Collector's file exporter imports the same way.

pub mod cli;
#[cfg(test)]
mod tests;

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http::header;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{metric, Metric};
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{Map, Value};

use crate::logs::LogStore;
use crate::otlp_metrics::MetricStore;
use crate::traces::TraceStore;

/// The export's path.
pub const EXPORT: &str = "/v1/telemetry/export";
/// Its media type: JSON Lines.
pub const JSON_LINES: &str = "application/x-ndjson";
/// How many metric series one exported line holds.
const SERIES_PER_LINE: usize = 100;

/// One line of a telemetry file.
#[derive(Debug, Clone, PartialEq)]
pub enum Export {
    Traces(ExportTraceServiceRequest),
    Logs(ExportLogsServiceRequest),
    Metrics(ExportMetricsServiceRequest),
}

/// What a line holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub spans: usize,
    pub log_records: usize,
    pub data_points: usize,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, other: Counts) {
        self.spans += other.spans;
        self.log_records += other.log_records;
        self.data_points += other.data_points;
    }
}

impl Export {
    /// Reads one line; the message says what is wrong with it.
    pub fn parse(line: &str) -> Result<Export, String> {
        let object: Map<String, Value> =
            serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
        let kinds: Vec<&str> = ["resourceSpans", "resourceLogs", "resourceMetrics"]
            .into_iter()
            .filter(|key| object.contains_key(*key))
            .collect();
        let value = Value::Object(object);
        let export = match kinds.as_slice() {
            ["resourceSpans"] => serde_json::from_value(value).map(Export::Traces),
            ["resourceLogs"] => serde_json::from_value(value).map(Export::Logs),
            ["resourceMetrics"] => serde_json::from_value(value).map(Export::Metrics),
            [] => {
                return Err("holds none of resourceSpans, resourceLogs, resourceMetrics".to_owned())
            }
            _ => return Err(format!("holds more than one kind: {}", kinds.join(", "))),
        };
        let export = export.map_err(|e| format!("not an OTLP {} export: {e}", kinds[0]))?;
        export.check()?;
        Ok(export)
    }

    /// Refuses what the receivers would drop, so that a line is imported whole or not at all.
    fn check(&self) -> Result<(), String> {
        match self {
            Export::Traces(request) => {
                let spans = spans_of(request);
                for span in spans {
                    if crate::traces::trace_id_of(span).is_none() {
                        return Err(format!(
                            "span {:?} has no valid trace id (16 bytes, not all zero)",
                            span.name
                        ));
                    }
                }
            }
            Export::Logs(request) => {
                let records = records_of(request);
                for (n, record) in records.enumerate() {
                    if let Some(problem) = crate::logs::otlp::record_problem(record) {
                        return Err(format!("log record {}: {problem}", n + 1));
                    }
                }
            }
            Export::Metrics(request) => {
                let metrics = metrics_of(request);
                for metric in metrics {
                    if let Some(problem) = crate::otlp_metrics::metric_problem(metric) {
                        return Err(format!("metric {:?}: {problem}", metric.name));
                    }
                }
            }
        }
        Ok(())
    }

    /// The receiver's path.
    pub fn path(&self) -> &'static str {
        match self {
            Export::Traces(_) => crate::traces::TRACES,
            Export::Logs(_) => crate::logs::LOGS,
            Export::Metrics(_) => crate::otlp_metrics::METRICS,
        }
    }

    pub fn counts(&self) -> Counts {
        match self {
            Export::Traces(request) => Counts {
                spans: spans_of(request).count(),
                ..Counts::default()
            },
            Export::Logs(request) => Counts {
                log_records: records_of(request).count(),
                ..Counts::default()
            },
            Export::Metrics(request) => Counts {
                data_points: metrics_of(request)
                    .map(|m| match &m.data {
                        Some(metric::Data::Gauge(g)) => g.data_points.len(),
                        Some(metric::Data::Sum(s)) => s.data_points.len(),
                        Some(metric::Data::Histogram(h)) => h.data_points.len(),
                        Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
                        Some(metric::Data::Summary(s)) => s.data_points.len(),
                        None => 0,
                    })
                    .sum(),
                ..Counts::default()
            },
        }
    }

    /// The line, OTLP JSON with its newline.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = match self {
            Export::Traces(request) => serde_json::to_vec(request),
            Export::Logs(request) => serde_json::to_vec(request),
            Export::Metrics(request) => serde_json::to_vec(request),
        }
        // The generated types serialize to JSON without fail (no maps with non-string keys).
        .unwrap_or_default();
        line.push(b'\n');
        line
    }
}

/// The items of an export, in order: those of every scope group of every resource group.
fn grouped<'a, R, S: 'a, I: 'a>(
    resources: &'a [R],
    scopes: impl Fn(&'a R) -> &'a Vec<S>,
    items: impl Fn(&'a S) -> &'a Vec<I>,
) -> impl Iterator<Item = &'a I> {
    resources.iter().flat_map(scopes).flat_map(items)
}

fn spans_of(request: &ExportTraceServiceRequest) -> impl Iterator<Item = &Span> {
    grouped(&request.resource_spans, |r| &r.scope_spans, |s| &s.spans)
}

fn records_of(request: &ExportLogsServiceRequest) -> impl Iterator<Item = &LogRecord> {
    grouped(
        &request.resource_logs,
        |r| &r.scope_logs,
        |s| &s.log_records,
    )
}

fn metrics_of(request: &ExportMetricsServiceRequest) -> impl Iterator<Item = &Metric> {
    grouped(
        &request.resource_metrics,
        |r| &r.scope_metrics,
        |s| &s.metrics,
    )
}

/// Everything the stores keep, as the lines of a telemetry file.
pub fn snapshot(traces: &TraceStore, logs: &LogStore, metrics: &MetricStore) -> Vec<Export> {
    let mut lines: Vec<Export> = traces.export().into_iter().map(Export::Traces).collect();
    lines.extend(
        crate::logs::otlp::exports_of(&logs.lines())
            .into_iter()
            .map(Export::Logs),
    );
    lines.extend(
        metrics
            .export(SERIES_PER_LINE)
            .into_iter()
            .map(Export::Metrics),
    );
    lines
}

#[derive(Clone)]
struct Stores {
    traces: TraceStore,
    logs: LogStore,
    metrics: MetricStore,
}

/// The export's route over the three stores.
pub fn router(traces: TraceStore, logs: LogStore, metrics: MetricStore) -> Router {
    Router::new().route(EXPORT, get(export)).with_state(Stores {
        traces,
        logs,
        metrics,
    })
}

async fn export(State(stores): State<Stores>) -> Response {
    // A consistent copy is taken at once; the lines are written as they are sent, so that
    // the JSON text of everything is never in memory at once.
    let lines = snapshot(&stores.traces, &stores.logs, &stores.metrics);
    let stream = futures_util::stream::iter(
        lines
            .into_iter()
            .map(|line| Ok::<_, Infallible>(Bytes::from(line.to_line()))),
    );
    (
        [
            (header::CONTENT_TYPE, JSON_LINES),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"brigade-telemetry.jsonl\"",
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
