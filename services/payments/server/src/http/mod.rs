//! The payments HTTP API under `/v1`, plus its OpenAPI document. Handlers check input, ask the
//! [`Processor`] or the store, and answer JSON or a problem; the rules live in the processor.

mod audit;
mod charges;
mod idempotency;
mod ledger;
mod openapi;
mod refunds;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use brigade_chassis::Problem;
use payments_api::paths;

use crate::processor::Processor;

/// The largest charge or refund body accepted: either is a few hundred bytes of JSON (a refund
/// reason is at most 500 characters, up to 2 000 bytes).
const BODY_LIMIT: usize = 8 * 1024;

/// The payments routes. The chassis adds health, metrics and the middleware around them.
pub fn router(processor: Processor) -> Router {
    Router::new()
        .route(
            paths::CHARGES,
            get(charges::list)
                .post(charges::create)
                .layer(DefaultBodyLimit::max(BODY_LIMIT)),
        )
        .route(paths::CHARGE_PATTERN, get(charges::one))
        .route(
            paths::REFUND_PATTERN,
            post(refunds::refund).layer(DefaultBodyLimit::max(BODY_LIMIT)),
        )
        .route(paths::LEDGER, get(ledger::page))
        .route(paths::AUDIT, get(audit::audit))
        .route(paths::OPENAPI, get(openapi::document))
        .with_state(processor)
}

/// The answer to a store failure: logged here with its cause, answered without it.
fn store_failed(error: &dyn std::error::Error) -> Problem {
    tracing::error!(error = %error, "the payments store failed");
    Problem::internal()
}
