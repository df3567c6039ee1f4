//! The payments HTTP API under `/v1`, plus its OpenAPI document. Handlers check input, ask the
//! [`Processor`] or the store, and answer JSON or a problem; the rules live in the processor.

mod audit;
mod charges;
mod ledger;
mod refunds;

use axum::Router;
use brigade_chassis::identity::OPERATOR;
use brigade_chassis::openapi::{self, Contract};
use payments_api::test_cards;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::processor::Processor;

/// The largest charge or refund body accepted: either is a few hundred bytes of JSON (a refund
/// reason is at most 500 characters, up to 2 000 bytes).
const BODY_LIMIT: usize = 8 * 1024;

/// The checkout saga, and the people operating the system.
const ORDERS_AND_OPERATORS: &[&str] = &["orders", OPERATOR];

/// The payments routes. The chassis adds health, metrics and the middleware around them.
pub fn router(processor: Processor) -> Router {
    let routes = OpenApiRouter::new()
        // Charges are read by the saga that made them and by operators.
        .routes(openapi::callers(
            routes!(charges::list),
            ORDERS_AND_OPERATORS,
        ))
        // Money moves only when orders asks (a checkout), or an operator for a refund.
        .routes(openapi::callers(
            openapi::body_limit(routes!(charges::create), BODY_LIMIT),
            &["orders"],
        ))
        .routes(openapi::callers(
            routes!(charges::one),
            ORDERS_AND_OPERATORS,
        ))
        .routes(openapi::callers(
            openapi::body_limit(routes!(refunds::refund), BODY_LIMIT),
            ORDERS_AND_OPERATORS,
        ))
        // The books are the operators' (the promise checker reads them as the operator).
        .routes(openapi::callers(routes!(ledger::page), &[OPERATOR]))
        .routes(openapi::callers(routes!(audit::audit), &[OPERATOR]));
    contract().serve(routes).with_state(processor)
}

/// What the document says about the service as a whole.
fn contract() -> Contract {
    let description = format!(
        "A card-processor simulator: charges (idempotent by `Idempotency-Key`, at most one \
         money-holding charge per order), full refunds, an append-only ledger and its audit. \
         Test cards: {} is approved, {} declined, {} declined for insufficient funds, {} \
         approved slowly, {} fails in the processor (502). An internal API: orders charges and \
         refunds at checkout; shoppers never call it. Every instance also serves /livez, \
         /readyz, /metrics and the chassis' parked-events routes (/v1/events/parked).",
        test_cards::APPROVED,
        test_cards::DECLINED,
        test_cards::INSUFFICIENT_FUNDS,
        test_cards::SLOW,
        test_cards::PROCESSOR_ERROR,
    );
    Contract::new(
        "Brigade payments service",
        env!("CARGO_PKG_VERSION"),
        &description,
    )
    .problem_member(
        "charge_id",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Uuid,
            )))
            .description(Some(
                "The charge concerned (already-charged, idempotency-key-reused).",
            ))
            .build(),
    )
    .problem_member(
        "charge_status",
        openapi::text("The status of the charge concerned (already-charged, not-refundable)."),
    )
}
