//! The control plane as an OTLP/HTTP traces receiver: `brigade up` points every instance's
//! exporter here (`OTEL_EXPORTER_OTLP_ENDPOINT`), so traces are there to look at with nothing
//! else installed.
//!
//! - `POST /v1/traces`: an OTLP export, protobuf (`application/x-protobuf`) or JSON
//!   (`application/json`), decoded with opentelemetry-proto; kept in a [`TraceStore`] within
//!   its [`Caps`].
//! - `GET /v1/traces?service=&min_duration=&error=&limit=`: the recent traces, latest first.
//! - `GET /v1/traces/{trace_id}`: one trace as OTLP JSON (`resourceSpans`).

mod store;
#[cfg(test)]
mod tests;

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use brigade_chassis::extract::{Json, Query};
use brigade_chassis::problem::quoted;
use brigade_chassis::validation::ValidationError;
use brigade_chassis::Problem;
use bytes::Bytes;
use http::HeaderMap;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use crate::otlp;

pub use store::SpanView;
pub use store::{trace_id_of, Accepted, Caps, Filter, Summary, TraceId, TraceStore};

/// The path of the receiver and of the list.
pub const TRACES: &str = "/v1/traces";

/// The default and the largest `limit` of the list.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 1_000;

/// The receiver's and the API's routes over `store`.
pub fn router(store: TraceStore) -> Router {
    Router::new()
        .route(TRACES, get(list).post(receive))
        .route("/v1/traces/{trace_id}", get(one))
        .layer(DefaultBodyLimit::max(otlp::MAX_EXPORT_BYTES))
        .with_state(store)
}

/// The list's query, as text: each value is checked and named when it is wrong.
#[derive(Debug, Default, serde::Deserialize)]
struct ListQuery {
    service: Option<String>,
    min_duration: Option<String>,
    error: Option<String>,
    limit: Option<String>,
}

impl ListQuery {
    fn filter(self) -> Result<Filter, ValidationError> {
        let min_duration_ms = self
            .min_duration
            .as_deref()
            .map(parse_duration_ms)
            .transpose()?;
        let error = match self.error.as_deref() {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(other) => {
                return Err(ValidationError::new(
                    "error",
                    format!("{} is not true or false", quoted(other)),
                ))
            }
        };
        let limit = self.limit.as_deref().map_or(Ok(DEFAULT_LIMIT), |text| {
            otlp::number("limit", text, 1, MAX_LIMIT)
        })?;
        let service = otlp::non_empty("service", self.service)?;
        Ok(Filter {
            service,
            min_duration_ms,
            error,
            limit,
        })
    }
}

/// A duration such as `250ms` or `1.5s`, or a bare number of milliseconds.
fn parse_duration_ms(text: &str) -> Result<f64, ValidationError> {
    let invalid = || {
        ValidationError::new(
            "min_duration",
            format!(
                "{} is not a duration (e.g. 250ms, 2s, or milliseconds)",
                quoted(text)
            ),
        )
    };
    if let Ok(ms) = text.parse::<f64>() {
        return (ms.is_finite() && ms >= 0.0)
            .then_some(ms)
            .ok_or_else(invalid);
    }
    humantime::parse_duration(text)
        .map(|d: Duration| d.as_secs_f64() * 1e3)
        .map_err(|_| invalid())
}

async fn list(State(store): State<TraceStore>, Query(query): Query<ListQuery>) -> Response {
    match query.filter() {
        Ok(filter) => Json(store.list(&filter)).into_response(),
        Err(error) => Problem::from(error).into_response(),
    }
}

async fn one(State(store): State<TraceStore>, Path(trace_id): Path<String>) -> Response {
    match kept(&store, &trace_id) {
        Ok((_, trace)) => Json(trace).into_response(),
        Err(unkept) => unkept.into_response(),
    }
}

/// Why a path's trace cannot be answered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Unkept {
    #[error("{} is not 32 hexadecimal digits", quoted(.0))]
    NotAnId(String),
    #[error("no trace {0} is kept (it may have been evicted)")]
    Evicted(String),
}

impl IntoResponse for Unkept {
    fn into_response(self) -> Response {
        let detail = self.to_string();
        match self {
            Unkept::NotAnId(_) => Problem::invalid_parameter("trace_id", detail),
            Unkept::Evicted(_) => Problem::not_found(detail),
        }
        .into_response()
    }
}

/// The trace a path names, with its id.
pub(crate) fn kept(
    store: &TraceStore,
    trace_id: &str,
) -> Result<(TraceId, ExportTraceServiceRequest), Unkept> {
    let id = parse_trace_id(trace_id).ok_or_else(|| Unkept::NotAnId(trace_id.to_owned()))?;
    let trace = store
        .get(&id)
        .ok_or_else(|| Unkept::Evicted(trace_id.to_owned()))?;
    Ok((id, trace))
}

pub(crate) fn parse_trace_id(text: &str) -> Option<TraceId> {
    if text.len() != 32 {
        return None;
    }
    let mut id = [0u8; 16];
    for (byte, pair) in id.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    (id != [0; 16]).then_some(id)
}

async fn receive(State(store): State<TraceStore>, headers: HeaderMap, body: Bytes) -> Response {
    crate::otlp::receive(&headers, &body, "trace", |request| keep(&store, request))
}

/// Keeps an export's spans; the answer says how many were refused, and why.
fn keep(store: &TraceStore, request: ExportTraceServiceRequest) -> ExportTraceServiceResponse {
    let accepted = store.insert(request);
    // Refused spans as a partial success.
    let partial_success = (accepted.rejected > 0).then(|| ExportTracePartialSuccess {
        rejected_spans: accepted.rejected as i64,
        error_message: "spans with an invalid trace id or past their trace's cap were dropped"
            .to_owned(),
    });
    ExportTraceServiceResponse { partial_success }
}
