//! The orders service's HTTP API under `/v1`, plus its OpenAPI document. Handlers check input,
//! ask the store or start the saga, and answer JSON or a problem.

mod audit;
mod checkout;
mod openapi;
mod orders;

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::{get, post};
use axum::Router;
use brigade_chassis::auth::Verifier;
use brigade_chassis::Problem;
use orders_api::paths;

use crate::saga::Saga;

/// A checkout body is one card number; anything much larger is not a checkout.
const CHECKOUT_BODY_LIMIT: usize = 4 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub saga: Saga,
    pub verifier: Verifier,
    /// How much of a checkout request's deadline is kept back for answering after the wait.
    pub answer_margin: Duration,
}

impl FromRef<AppState> for Verifier {
    fn from_ref(state: &AppState) -> Verifier {
        state.verifier.clone()
    }
}

/// The orders routes. The chassis adds health, metrics and the middleware around them.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            paths::CHECKOUT,
            post(checkout::checkout).layer(DefaultBodyLimit::max(CHECKOUT_BODY_LIMIT)),
        )
        .route(paths::ORDERS, get(orders::list))
        .route(paths::ORDER_PATTERN, get(orders::one))
        .route(paths::AUDIT, get(audit::audit))
        .route(paths::AUDIT_ORDERS, get(audit::orders))
        .route(paths::OPENAPI, get(openapi::document))
        .with_state(state)
}

/// The answer to a store failure: logged here with its cause, answered without it.
fn store_failed(error: &dyn std::error::Error) -> Problem {
    tracing::error!(error = %error, "the orders store failed");
    Problem::internal()
}
