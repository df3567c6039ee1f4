//! The registry's HTTP API, exactly as `brigade_chassis::discovery::api` describes it.

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use brigade_chassis::discovery::api::{Registration, MAX_WAIT_MS};
use brigade_chassis::extract::{Json, Path, Query};
use brigade_chassis::Problem;
use serde::Deserialize;

use super::{is_valid_instance_id, Registry, MAX_BODY_BYTES};

/// The registry's routes under `/v1/registry`, with their own body limit. They carry no
/// fallback, so that the control plane can merge them with its other routes.
pub fn router(registry: Registry) -> Router {
    Router::new()
        .route(
            "/v1/registry/instances/{instance_id}",
            put(register).delete(deregister),
        )
        .route(
            "/v1/registry/instances/{instance_id}/heartbeat",
            put(heartbeat),
        )
        .route("/v1/registry/services", get(catalogue))
        .route("/v1/registry/services/{service}", get(service))
        .route("/v1/registry/prometheus-targets", get(prometheus_targets))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(registry)
}

async fn register(
    State(registry): State<Registry>,
    Path(instance_id): Path<String>,
    Json(registration): Json<Registration>,
) -> Result<Response, Problem> {
    let record = registry.register(&instance_id, registration)?;
    Ok(Json(record).into_response())
}

async fn heartbeat(
    State(registry): State<Registry>,
    Path(instance_id): Path<String>,
) -> Result<Response, Problem> {
    let record = registry.heartbeat(&instance_id)?;
    Ok(Json(record).into_response())
}

async fn deregister(
    State(registry): State<Registry>,
    Path(instance_id): Path<String>,
) -> Result<StatusCode, Problem> {
    if !is_valid_instance_id(&instance_id) {
        return Err(Problem::invalid_parameter(
            "instance_id",
            format!("`{instance_id}` is not a valid instance id"),
        ));
    }
    // Deregistering an unknown instance is not an error: the caller's wish is already true.
    registry.deregister(&instance_id);
    Ok(StatusCode::NO_CONTENT)
}

async fn catalogue(State(registry): State<Registry>) -> Response {
    Json(registry.catalogue()).into_response()
}

/// Every live instance as Prometheus HTTP service discovery reads it (`http_sd_configs`): one
/// target group per instance, its address the target, and `__meta_brigade_*` labels (service,
/// instance id, version) for the scrape configuration to relabel, so that Prometheus follows
/// scaling and restarts with no file to keep up to date.
async fn prometheus_targets(State(registry): State<Registry>) -> Response {
    let groups: Vec<serde_json::Value> = registry
        .catalogue()
        .services
        .into_values()
        .flatten()
        .map(|record| {
            let r = record.registration;
            serde_json::json!({
                "targets": [r.address],
                "labels": {
                    "__meta_brigade_service": r.service,
                    "__meta_brigade_instance_id": r.instance_id,
                    "__meta_brigade_version": r.version,
                },
            })
        })
        .collect();
    Json(groups).into_response()
}

/// `?index=N&wait_ms=M` of a blocking query. Public (with its fields) so that the fuzz targets
/// (`fuzz/`) decode the registry's query strings as this route does.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    /// The index the caller has seen; absent means "answer at once".
    pub index: Option<u64>,
    /// How long to wait for a change; absent means not at all. Longer than [`MAX_WAIT_MS`] is
    /// shortened to it.
    pub wait_ms: Option<u64>,
}

async fn service(
    State(registry): State<Registry>,
    Path(service): Path<String>,
    Query(query): Query<WaitQuery>,
) -> Result<Response, Problem> {
    if !crate::is_valid_service_name(&service) {
        return Err(Problem::invalid_parameter(
            "service",
            crate::service_name_rule(&service),
        ));
    }
    let wait = Duration::from_millis(query.wait_ms.unwrap_or(0).min(MAX_WAIT_MS));
    let answer = registry.wait_for_change(&service, query.index, wait).await;
    Ok(Json(answer).into_response())
}
