//! The catalog's HTTP API under `/v1`, plus its OpenAPI document. Handlers check input, ask the
//! [`Store`], and answer JSON or a problem; they hold no business rules of their own beyond
//! turning the store's answers into HTTP.

mod categories;
mod openapi;
mod products;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use brigade_chassis::Problem;
use catalog_api::paths;

use crate::store::Store;

/// The largest batch body accepted. A hundred ids in JSON take about 4 KiB; anything much
/// larger is not a batch request, so it is refused before it is read.
const BATCH_BODY_LIMIT: usize = 16 * 1024;

/// The catalog's routes. The chassis adds health, metrics and the middleware around them.
pub fn router(store: Store) -> Router {
    Router::new()
        .route(paths::PRODUCTS, get(products::list))
        .route(
            paths::PRODUCTS_BATCH,
            post(products::batch).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)),
        )
        .route("/v1/products/{id}", get(products::one))
        .route(paths::CATEGORIES, get(categories::list))
        .route(paths::OPENAPI, get(openapi::document))
        .with_state(store)
}

/// The answer to a store failure: logged here with its cause, answered without it.
fn store_failed(error: &dyn std::error::Error) -> Problem {
    tracing::error!(error = %error, "the catalog store failed");
    Problem::internal()
}
