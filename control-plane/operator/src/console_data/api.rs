//! The console's data routes: `GET /v1/console/services` and `GET /v1/console/map` (see the
//! module above for their shapes).

use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use brigade_chassis::extract::{Json, Query};
use brigade_chassis::problem::quoted;
use brigade_chassis::validation::ValidationError;
use brigade_chassis::Problem;

use super::map::{self, DEFAULT_WINDOW, MAX_WINDOW};
use super::series::Series;
use crate::traces::TraceStore;

#[derive(Clone)]
struct ApiState {
    series: Series,
    traces: TraceStore,
    /// The manifest's services, in its order: shown even before they have figures.
    names: Vec<String>,
}

/// The routes over the recorded `series` and the kept `traces`; `names` are the manifest's
/// services.
pub fn router(series: Series, traces: TraceStore, names: Vec<String>) -> Router {
    Router::new()
        .route("/v1/console/services", get(services))
        .route("/v1/console/map", get(service_map))
        .with_state(ApiState {
            series,
            traces,
            names,
        })
}

#[derive(Debug, Default, serde::Deserialize)]
struct ServicesQuery {
    since: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct MapQuery {
    window: Option<String>,
}

/// `since`: Unix seconds, a finite number from 0, fractions allowed.
fn parse_since(text: &str) -> Result<f64, ValidationError> {
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .ok_or_else(|| {
            ValidationError::new(
                "since",
                format!(
                    "{} is not a time in Unix seconds (e.g. 1780000000.5)",
                    quoted(text)
                ),
            )
        })
}

/// `window`: a duration such as `30s` or `5m`, from 1 s to [`MAX_WINDOW`].
fn parse_window(text: &str) -> Result<Duration, ValidationError> {
    humantime::parse_duration(text)
        .ok()
        .filter(|w| (Duration::from_secs(1)..=MAX_WINDOW).contains(w))
        .ok_or_else(|| {
            ValidationError::new(
                "window",
                format!(
                    "{} is not a duration from 1s to {} (e.g. 30s, 5m)",
                    quoted(text),
                    humantime::format_duration(MAX_WINDOW)
                ),
            )
        })
}

async fn services(State(state): State<ApiState>, Query(query): Query<ServicesQuery>) -> Response {
    match query.since.as_deref().map(parse_since).transpose() {
        Ok(since) => Json(state.series.view(&state.names, since)).into_response(),
        Err(error) => Problem::from(error).into_response(),
    }
}

async fn service_map(State(state): State<ApiState>, Query(query): Query<MapQuery>) -> Response {
    let window = match query.window.as_deref().map(parse_window).transpose() {
        Ok(window) => window.unwrap_or(DEFAULT_WINDOW),
        Err(error) => return Problem::from(error).into_response(),
    };
    let now_ns = brigade_chassis::time::unix_ms().saturating_mul(1_000_000);
    // Walking the store is a few milliseconds at its caps: off the async workers.
    let built = tokio::task::spawn_blocking(move || {
        map::build(&state.traces, &state.names, window, now_ns)
    })
    .await;
    match built {
        Ok(map) => Json(map).into_response(),
        Err(error) => {
            tracing::error!(%error, "building the console's map failed");
            Problem::internal().into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use crate::testing::{assert_invalid, get, serve, sources};

    #[tokio::test]
    async fn every_manifest_service_is_listed_before_any_scrape() {
        let control = serve(sources(&["gateway", "orders"])).await;
        let (status, body, _) = get(&format!("{control}/v1/console/services")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["step_seconds"], 2.0);
        assert_eq!(body["window_seconds"], 600);
        assert_eq!(body["services"][0]["service"], "gateway");
        assert_eq!(body["services"][1]["service"], "orders");
        assert_eq!(body["services"][1]["t"], serde_json::json!([]));
        assert_eq!(body["services"][1]["outbox"], serde_json::Value::Null);
    }

    #[tokio::test]
    async fn the_map_answers_with_the_manifest_services_as_nodes() {
        let control = serve(sources(&["gateway"])).await;
        let (status, body, _) = get(&format!("{control}/v1/console/map?window=30s")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["window_seconds"], 30);
        assert_eq!(body["nodes"][0]["service"], "gateway");
        assert_eq!(body["edges"], serde_json::json!([]));
        let (_, default, _) = get(&format!("{control}/v1/console/map")).await;
        assert_eq!(default["window_seconds"], 300);
    }

    #[tokio::test]
    async fn bad_parameters_are_problems_naming_them() {
        let control = serve(sources(&["gateway"])).await;
        for (path, parameter) in [
            ("/v1/console/services?since=yesterday", "since"),
            ("/v1/console/services?since=-1", "since"),
            ("/v1/console/services?since=inf", "since"),
            ("/v1/console/map?window=forever", "window"),
            ("/v1/console/map?window=2h", "window"),
            ("/v1/console/map?window=0s", "window"),
        ] {
            assert_invalid(&format!("{control}{path}"), parameter).await;
        }
    }
}
