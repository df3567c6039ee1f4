//! The service's HTTP API under `/v1`, plus its OpenAPI document. Handlers check input with
//! `recommendations_api`'s rules, ask the [`Store`], and answer JSON or a problem.
//!
//! Neither route answers 404 for an id: a product the model never heard of may be new, and a
//! user who never bought anything still gets the popular products.

mod openapi;
mod recommendations;

use axum::routing::get;
use axum::Router;
use brigade_chassis::Problem;
use recommendations_api::paths;

use crate::store::Store;

/// The service's routes. The chassis adds health, metrics, the event routes and the middleware
/// around them.
pub fn router(store: Store) -> Router {
    Router::new()
        .route(paths::PRODUCT_PATTERN, get(recommendations::for_product))
        .route(paths::USER_PATTERN, get(recommendations::for_user))
        .route(paths::OPENAPI, get(openapi::document))
        .with_state(store)
}

/// The answer to a store failure: logged here with its cause, answered without it.
fn store_failed(error: &dyn std::error::Error) -> Problem {
    tracing::error!(error = %error, "the recommendations store failed");
    Problem::internal()
}
