//! The control plane's HTTP server on the control port: the registry (`/v1/registry/…`), the
//! system view (`/v1/system`), scaling and rolling restarts (`/v1/system/services/…`, see
//! [`crate::scale`]), process faults (`/v1/chaos/…`), the traces receiver and API
//! (`/v1/traces`, see [`crate::traces`]), the instances' log lines and the OTLP logs receiver
//! (`/v1/logs`, see [`crate::logs`]), the OTLP metrics receiver (`/v1/metrics`, see
//! [`crate::otlp_metrics`]), the telemetry file (`/v1/telemetry/export`, see
//! [`crate::telemetry_file`]), the console (`/`) and its data (`/v1/console/…`, see
//! [`crate::console_data`]), and its own `/livez` and `/metrics`, all in the
//! chassis middleware so that errors are problem+json like everywhere else.
//!
//! **Invariant:** every route that changes the system (kills, pauses, resumes, scales,
//! restarts, replays) is merged through [`crate::operator_auth::Gate::protect`]: only holders
//! of the operator credential may change it. What only reads stays open on loopback, and the
//! instances' own posts (registrations, spans, log lines, metrics) are not an operator's.

use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use brigade_chassis::client::plain::PlainClient;
use brigade_chassis::discovery::api::MAX_WAIT_MS;
use brigade_chassis::extract::Json;
use brigade_chassis::http::Limits;
use brigade_chassis::metrics::Metrics;

use crate::system::{self, Sources};
use crate::{chaos, console, console_data, logs, otlp_metrics, scale, telemetry_file, traces};

#[derive(Clone)]
struct AppState {
    sources: Sources,
    client: PlainClient,
}

/// Everything served on the control port, with chaos off.
pub fn router(sources: Sources) -> Router {
    router_with_chaos(sources, false)
}

/// Everything served on the control port; `chaos` lets `/v1/chaos/…` kill and pause instances.
pub fn router_with_chaos(sources: Sources, chaos: bool) -> Router {
    let metrics = Metrics::new();
    let scrape = metrics.clone();
    let gate = sources.operator.clone();
    let state = AppState {
        sources: sources.clone(),
        client: PlainClient::new(system::PROBE_TIMEOUT),
    };
    // The services the system is meant to run, which the logs and the console name.
    let services: Vec<String> = sources
        .desired
        .iter()
        .map(|(name, _)| name.clone())
        .collect();
    let app = Router::new()
        .merge(brigade_registry::router(sources.registry.clone()))
        .merge(console::router(sources.clone(), &gate))
        .merge(traces::router(sources.traces.clone()))
        .merge(logs::router(sources.logs.clone(), services.clone()))
        .merge(otlp_metrics::router(sources.metrics.clone()))
        .merge(telemetry_file::router(
            sources.traces.clone(),
            sources.logs.clone(),
            sources.metrics.clone(),
        ))
        .merge(gate.protect(chaos::instances::router(sources.supervisor.clone(), chaos)))
        .merge(gate.protect(scale::router(
            sources.supervisor.clone(),
            sources.registry.clone(),
            sources.stop_grace,
        )))
        .merge(console_data::router(
            sources.console.clone(),
            sources.traces.clone(),
            services,
        ))
        .route("/v1/system", get(system_view).with_state(state))
        .route(
            "/livez",
            get(|| async { Json(serde_json::json!({"status": "live"})) }),
        )
        .route(
            "/metrics",
            get(move |headers: http::HeaderMap| async move {
                scrape.scrape(headers.get(http::header::ACCEPT)).await
            }),
        );
    brigade_chassis::http::wrap(
        app,
        metrics,
        Limits {
            // Blocking queries legitimately take up to their longest wait.
            max_request_time: Duration::from_millis(MAX_WAIT_MS) + Duration::from_secs(5),
            max_body_bytes: brigade_registry::MAX_BODY_BYTES,
            ..Limits::default()
        },
    )
}

async fn system_view(State(state): State<AppState>) -> Response {
    let mut view = system::collect(&state.sources);
    system::probe_all(&mut view, &state.client).await;
    Json(view).into_response()
}
