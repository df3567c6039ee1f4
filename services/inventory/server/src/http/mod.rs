//! The inventory's HTTP API under `/v1`, plus its OpenAPI document. Handlers check input, ask
//! the [`Store`], and turn its answers into JSON or problems; the rules live in the store.

mod audit;
mod openapi;
mod reservations;
mod stock;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use brigade_chassis::Problem;
use inventory_api::paths;

use crate::store::Store;

/// The largest reservation body accepted. A hundred lines take about 6 KiB of JSON; anything
/// much larger is not a reservation, so it is refused before it is read.
const RESERVATION_BODY_LIMIT: usize = 32 * 1024;
/// The largest stock body accepted: `{"stock": N}`.
const STOCK_BODY_LIMIT: usize = 1024;

/// The inventory's routes. The chassis adds health, metrics and the middleware around them.
pub fn router(store: Store) -> Router {
    Router::new()
        .route(paths::STOCK, get(stock::list))
        .route(
            paths::STOCK_LEVEL,
            get(stock::one)
                .put(stock::set)
                .layer(DefaultBodyLimit::max(STOCK_BODY_LIMIT)),
        )
        .route(
            paths::RESERVATION,
            get(reservations::one)
                .put(reservations::reserve)
                .layer(DefaultBodyLimit::max(RESERVATION_BODY_LIMIT)),
        )
        .route(paths::COMMIT, post(reservations::commit))
        .route(paths::RELEASE, post(reservations::release))
        .route(paths::AUDIT, get(audit::audit))
        .route(paths::OPENAPI, get(openapi::document))
        .with_state(store)
}

/// The answer to a store failure: logged here with its cause, answered without it.
fn store_failed(error: &dyn std::error::Error) -> Problem {
    tracing::error!(error = %error, "the inventory store failed");
    Problem::internal()
}

// The time of a change: wall-clock milliseconds, since expiry times are shared with other
// instances and callers.
use brigade_chassis::time::unix_ms as now_ms;
