//! Every instance's log lines, kept by the control plane and served to `brigade logs` (and the
//! console). Under `brigade up` each instance logs the chassis's JSON lines to its stdout, the
//! supervisor hands every line to the [`LogStore`] (and to the terminal), and the control port
//! serves them:
//!
//! - `GET /v1/logs?service=&instance=&trace=&level=&grep=&after=&limit=&wait_ms=`: the lines
//!   that match, oldest first, and the cursor (`next`) to pass as `after` for the ones that
//!   follow. Without `after`, the latest `limit` lines; with it, the first `limit` after it, and
//!   with `wait_ms` too, an answer held until a line matches or the time is up (a long poll:
//!   how `--follow` streams).
//!
//! - `POST /v1/logs`: an OTLP/HTTP logs export (protobuf or JSON), from any process with an
//!   OpenTelemetry SDK: its records become lines beside the instances' (see [`otlp`] for the
//!   mapping), so `brigade logs` shows them too.
//!
//! [`cli`] is `brigade logs`.

pub mod cli;
mod line;
pub mod otlp;
mod store;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use brigade_chassis::extract::{Json, Query};
use brigade_chassis::problem::quoted;
use brigade_chassis::validation::ValidationError;
use brigade_chassis::Problem;
use bytes::Bytes;
use http::HeaderMap;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};

use crate::otlp::number;

pub use line::{Level, LogLine, Source};
pub use store::{Caps, Filter, LogStore, Page};

/// The path of the API.
pub const LOGS: &str = "/v1/logs";

/// The default and the largest `limit`.
pub const DEFAULT_LIMIT: usize = 200;
pub const MAX_LIMIT: usize = 5_000;
/// The longest a follower's query is held; below the control port's request time limit.
pub const MAX_WAIT_MS: u64 = 30_000;
/// The longest `grep` text.
const MAX_GREP: usize = 1_000;

#[derive(Clone)]
struct LogsState {
    store: LogStore,
    /// The manifest's services: a query may name one that has not written a line yet.
    services: Arc<Vec<String>>,
}

/// The API's route over `store`; `services` are the system's services.
pub fn router(store: LogStore, services: Vec<String>) -> Router {
    Router::new()
        .route(LOGS, get(list).post(receive))
        .layer(DefaultBodyLimit::max(crate::otlp::MAX_EXPORT_BYTES))
        .with_state(LogsState {
            store,
            services: Arc::new(services),
        })
}

/// The query, as text: each value is checked and named when it is wrong.
#[derive(Debug, Default, serde::Deserialize)]
struct ListQuery {
    service: Option<String>,
    instance: Option<String>,
    trace: Option<String>,
    level: Option<String>,
    grep: Option<String>,
    after: Option<String>,
    limit: Option<String>,
    wait_ms: Option<String>,
}

impl ListQuery {
    fn filter(self) -> Result<(Filter, Duration), ValidationError> {
        let service = crate::otlp::non_empty("service", self.service)?;
        let instance = self
            .instance
            .as_deref()
            .map(|text| number("instance", text, 1, u32::MAX))
            .transpose()?;
        if instance.is_some() && service.is_none() {
            return Err(ValidationError::new(
                "instance",
                "needs a service: instance numbers count within a service",
            ));
        }
        let trace_id = self
            .trace
            .as_deref()
            .map(|text| {
                crate::traces::parse_trace_id(text)
                    .map(|_| text.to_ascii_lowercase())
                    .ok_or_else(|| {
                        ValidationError::new(
                            "trace",
                            format!("{} is not 32 hexadecimal digits", quoted(text)),
                        )
                    })
            })
            .transpose()?;
        let level = self
            .level
            .as_deref()
            .map(|text| {
                Level::parse(text).ok_or_else(|| {
                    ValidationError::new(
                        "level",
                        format!(
                            "{} is not one of trace, debug, info, warn, error",
                            quoted(text)
                        ),
                    )
                })
            })
            .transpose()?;
        let grep = match self.grep {
            Some(text) if text.is_empty() || text.len() > MAX_GREP => {
                return Err(ValidationError::new(
                    "grep",
                    format!("must be 1 to {MAX_GREP} bytes long"),
                ))
            }
            other => other,
        };
        let after = self
            .after
            .as_deref()
            .map(|text| number("after", text, 0, u64::MAX))
            .transpose()?;
        let limit = self.limit.as_deref().map_or(Ok(DEFAULT_LIMIT), |text| {
            number("limit", text, 1, MAX_LIMIT)
        })?;
        let wait_ms = self
            .wait_ms
            .as_deref()
            .map_or(Ok(0), |text| number("wait_ms", text, 0, MAX_WAIT_MS))?;
        Ok((
            Filter {
                service,
                instance,
                trace_id,
                level,
                grep,
                after,
                limit,
            },
            Duration::from_millis(wait_ms),
        ))
    }
}

async fn list(State(state): State<LogsState>, Query(query): Query<ListQuery>) -> Response {
    let (filter, wait) = match query.filter() {
        Ok(parsed) => parsed,
        Err(error) => return Problem::from(error).into_response(),
    };
    if let Some(service) = &filter.service {
        let mut known = state.store.services();
        known.extend(state.services.iter().cloned());
        known.sort();
        known.dedup();
        if !known.contains(service) {
            return Problem::not_found(format!(
                "no service {} runs here; the services are: {}",
                quoted(service),
                known.join(", ")
            ))
            .into_response();
        }
    }
    let page = if wait.is_zero() {
        state.store.query(&filter)
    } else {
        state.store.wait_for(filter, wait).await
    };
    Json(page).into_response()
}

async fn receive(State(state): State<LogsState>, headers: HeaderMap, body: Bytes) -> Response {
    crate::otlp::receive(&headers, &body, "logs", |request| keep(&state, request))
}

/// Keeps an export's records as lines; the answer says how many were refused, and why.
fn keep(state: &LogsState, request: ExportLogsServiceRequest) -> ExportLogsServiceResponse {
    let (lines, rejected) = otlp::lines_of(request, state.store.caps().line_bytes);
    for line in lines {
        state.store.keep(line);
    }
    let partial_success = (rejected > 0).then(|| ExportLogsPartialSuccess {
        rejected_log_records: rejected as i64,
        error_message: "records whose trace id is not 16 bytes or span id not 8 were dropped"
            .to_owned(),
    });
    ExportLogsServiceResponse { partial_success }
}
