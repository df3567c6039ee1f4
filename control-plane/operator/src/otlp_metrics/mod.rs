//! The control plane as an OTLP/HTTP metrics receiver, for any process with an OpenTelemetry
//! SDK (Brigade's own services are scraped as Prometheus text at their `/metrics`; the control
//! port's own is `GET /metrics`, unrelated to this).
//!
//! - `POST /v1/metrics`: an OTLP export, protobuf or JSON (see [`crate::otlp`]); its points kept
//!   in a [`MetricStore`] within its [`Caps`]: the last 120 points of each series, at most
//!   10 000 series. Points of a new series past that cap are refused (a partial success) and
//!   the series counted in `series_refused`.
//! - `GET /v1/metrics/otlp?service=&name=`: the kept series, by service then metric name, each
//!   with its points oldest first:
//!
//! ```json
//! {"series": [{"service": "shop-worker", "instance": "shop-worker-1", "scope": "shop",
//!              "name": "jobs.done", "description": "", "unit": "{job}", "kind": "sum",
//!              "temporality": "cumulative", "monotonic": true,
//!              "attributes": {"queue": "mail"},
//!              "points": [{"time_unix_ms": 1780000000000, "start_unix_ms": 1779999990000,
//!                          "value": 42.0}]}],
//!  "series_refused": 0, "caps": {"series": 10000, "points_per_series": 120}}
//! ```
//!
//! `kind` is `gauge`, `sum`, `histogram`, `exponential_histogram` or `summary`; a gauge's and
//! a sum's point has `value`, the others' `count`, `sum`, `min`, `max` and their distribution
//! (`bounds` and `bucket_counts`; `scale` and `zero_count`; `quantiles` as `[q, value]`).

mod store;
#[cfg(test)]
pub(crate) mod tests;

use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use brigade_chassis::extract::{Json, Query};
use brigade_chassis::Problem;
use bytes::Bytes;
use http::HeaderMap;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};

use crate::otlp;
pub use store::{
    metric_problem, Accepted, Caps, Filter, Listing, MetricStore, PointView, Reading, SeriesView,
    Shape, Totals,
};

/// The receiver's path.
pub const METRICS: &str = "/v1/metrics";
/// The list's path.
pub const LIST: &str = "/v1/metrics/otlp";

/// The receiver's and the list's routes over `store`.
pub fn router(store: MetricStore) -> Router {
    Router::new()
        .route(METRICS, post(receive))
        .route(LIST, get(list))
        .layer(DefaultBodyLimit::max(otlp::MAX_EXPORT_BYTES))
        .with_state(store)
}

#[derive(Debug, Default, serde::Deserialize)]
struct ListQuery {
    service: Option<String>,
    name: Option<String>,
}

async fn list(State(store): State<MetricStore>, Query(query): Query<ListQuery>) -> Response {
    let filter = otlp::non_empty("service", query.service)
        .and_then(|service| Ok((service, otlp::non_empty("name", query.name)?)))
        .map(|(service, name)| Filter { service, name });
    match filter {
        Ok(filter) => Json(store.list(&filter)).into_response(),
        Err(error) => Problem::from(error).into_response(),
    }
}

async fn receive(State(store): State<MetricStore>, headers: HeaderMap, body: Bytes) -> Response {
    crate::otlp::receive(&headers, &body, "metrics", |request| keep(&store, request))
}

/// Keeps an export's points; the answer says how many were refused, and why.
fn keep(store: &MetricStore, request: ExportMetricsServiceRequest) -> ExportMetricsServiceResponse {
    let accepted = store.insert(request);
    let partial_success = (accepted.rejected > 0).then(|| ExportMetricsPartialSuccess {
        rejected_data_points: accepted.rejected as i64,
        error_message: format!(
            "points of metrics without a name, without a value, or of new series past the cap \
             of {} series were dropped",
            store.caps().series
        ),
    });
    ExportMetricsServiceResponse { partial_success }
}
