//! Liveness and readiness.
//!
//! `/livez` answers 200 while the process can serve at all: orchestrators restart it otherwise.
//! `/readyz` answers 200 only when the instance should get traffic: every readiness check passes
//! (its store answers), it is registered in discovery, and it is not shutting down.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::future::BoxFuture;
use http::StatusCode;
use serde_json::json;

use crate::problem::Problem;
use crate::routes;

type Check = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// How long one readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Inner {
    registered: AtomicBool,
    draining: AtomicBool,
    checks: Mutex<Vec<(String, Check)>>,
}

/// The instance's readiness, shared by the server, discovery and shutdown.
#[derive(Clone, Default)]
pub struct Health {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("registered", &self.is_registered())
            .field("draining", &self.is_draining())
            .finish()
    }
}

impl Health {
    pub fn new() -> Health {
        Health::default()
    }

    /// Adds a check that must pass for the instance to be ready.
    pub fn add_check<F, Fut>(&self, name: &str, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        let check: Check = Arc::new(move || Box::pin(check()));
        if let Ok(mut checks) = self.inner.checks.lock() {
            checks.push((name.to_owned(), check));
        }
    }

    pub fn set_registered(&self, registered: bool) {
        self.inner.registered.store(registered, Ordering::SeqCst);
    }

    pub fn is_registered(&self) -> bool {
        self.inner.registered.load(Ordering::SeqCst)
    }

    /// Marks the instance as leaving: readiness fails from now on.
    pub fn set_draining(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }

    /// Runs every check; `Err` lists what is not ready.
    pub async fn readiness(&self) -> Result<(), Vec<String>> {
        let mut failures = Vec::new();
        if self.is_draining() {
            failures.push("shutting down".to_owned());
        }
        if !self.is_registered() {
            failures.push("not registered in discovery yet".to_owned());
        }
        let checks: Vec<(String, Check)> = match self.inner.checks.lock() {
            Ok(checks) => checks.clone(),
            Err(_) => Vec::new(),
        };
        for (name, check) in checks {
            match tokio::time::timeout(CHECK_TIMEOUT, check()).await {
                Ok(Ok(())) => {}
                Ok(Err(reason)) => failures.push(format!("{name}: {reason}")),
                Err(_) => failures.push(format!("{name}: no answer within {CHECK_TIMEOUT:?}")),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures)
        }
    }

    /// `/livez` and `/readyz`.
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                routes::LIVEZ,
                get(|| async { axum::Json(json!({"status": "live"})) }),
            )
            .route(routes::READYZ, get(readyz))
            .with_state(self.clone())
    }
}

async fn readyz(State(health): State<Health>) -> Response {
    match health.readiness().await {
        Ok(()) => axum::Json(json!({"status": "ready"})).into_response(),
        Err(failures) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "Not ready",
            format!("not ready: {}", failures.join("; ")),
        )
        .with("failures", failures)
        .into_response(),
    }
}
