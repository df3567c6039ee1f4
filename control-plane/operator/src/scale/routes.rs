//! The control port's routes that scale and restart services.

use std::future::Future;
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use brigade_chassis::extract::{Json, Path};
use brigade_chassis::Problem;
use brigade_registry::Registry;
use brigade_supervisor::{ResizeError, Supervisor};
use http::StatusCode;

use super::rollout::{Failed, Rollout};
use super::{ScaleRequest, CHANGE_IN_PROGRESS, INSTANCE_NOT_READY, MAX_INSTANCES};

/// `POST /v1/system/services/{service}/scale` and `…/restart`; `grace` is what a removed
/// instance gets between SIGTERM and SIGKILL.
pub fn router(supervisor: Option<Supervisor>, registry: Registry, grace: Duration) -> Router {
    Router::new()
        .route("/v1/system/services/{service}/scale", post(scale))
        .route("/v1/system/services/{service}/restart", post(restart))
        .with_state(Rollout::new(supervisor, registry, grace))
}

impl From<Failed> for Problem {
    fn from(failed: Failed) -> Problem {
        let detail = failed.to_string();
        match failed {
            Failed::Resize(ResizeError::UnknownGroup { .. } | ResizeError::UnknownSlot(_)) => {
                Problem::not_found(detail)
            }
            Failed::Resize(ResizeError::TooMany { .. }) => {
                Problem::invalid_parameter("instances", detail)
            }
            Failed::Resize(ResizeError::Stopped { .. }) | Failed::Busy => Problem::new(
                StatusCode::CONFLICT,
                CHANGE_IN_PROGRESS,
                "Change in progress",
                detail,
            ),
            Failed::Unsupervised => Problem::new(
                StatusCode::CONFLICT,
                "unsupervised",
                "No processes supervised",
                detail,
            ),
            Failed::NotReady { .. } => Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                INSTANCE_NOT_READY,
                "Instance not ready",
                detail,
            ),
        }
    }
}

/// Runs a change on its own task: a caller that goes away must not leave it half done (a
/// replacement started, the instance it replaces still there).
async fn carry_out<T, F>(change: F) -> Result<T, Problem>
where
    T: Send + 'static,
    F: Future<Output = Result<T, Failed>> + Send + 'static,
{
    match tokio::spawn(change).await {
        Ok(outcome) => outcome.map_err(Problem::from),
        Err(error) => {
            tracing::error!(%error, "a scale or restart failed");
            Err(Problem::internal())
        }
    }
}

async fn scale(
    State(rollout): State<Rollout>,
    Path(service): Path<String>,
    Json(request): Json<ScaleRequest>,
) -> Result<Response, Problem> {
    if request.instances > MAX_INSTANCES {
        return Err(Problem::invalid_parameter(
            "instances",
            format!(
                "instances must be between 0 and {MAX_INSTANCES}, got {}",
                request.instances
            ),
        ));
    }
    let report = carry_out(async move { rollout.scale(&service, request.instances).await }).await?;
    Ok(Json(report).into_response())
}

async fn restart(
    State(rollout): State<Rollout>,
    Path(service): Path<String>,
) -> Result<Response, Problem> {
    let report = carry_out(async move { rollout.restart(&service).await }).await?;
    Ok(Json(report).into_response())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::testing::{operator_post, serve, sources};

    async fn post(base: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let answer = operator_post(&format!("{base}{path}"), body).await;
        let content_type = answer
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(content_type, "application/problem+json");
        (
            answer.status.as_u16(),
            serde_json::from_slice(&answer.body).unwrap(),
        )
    }

    #[tokio::test]
    async fn bad_requests_are_problems() {
        let base = serve(sources(&["orders"])).await;
        let scale = "/v1/system/services/orders/scale";
        let (status, problem) = post(&base, scale, Some(r#"{"instances": 33}"#)).await;
        assert_eq!(status, 400, "{problem}");
        assert_eq!(problem["parameter"], "instances");
        assert!(problem["detail"]
            .as_str()
            .unwrap()
            .contains("between 0 and 32"));
        for body in [
            r#"{"instances": -1}"#,
            r#"{"instances": "two"}"#,
            "{}",
            "nope",
        ] {
            let (status, problem) = post(&base, scale, Some(body)).await;
            assert!((400..500).contains(&status), "{body}: {status} {problem}");
        }
        // Without a supervisor (a control port serving only a registry) nothing can change.
        let (status, problem) = post(&base, scale, Some(r#"{"instances": 2}"#)).await;
        assert_eq!(status, 409, "{problem}");
        let (status, _) = post(&base, "/v1/system/services/orders/restart", None).await;
        assert_eq!(status, 409);
    }
}
