//! The inventory's HTTP API under `/v1`, plus its OpenAPI document. Handlers check input, ask
//! the [`Store`], and turn its answers into JSON or problems; the rules live in the store.

mod audit;
mod reservations;
mod stock;

use axum::Router;
use brigade_chassis::identity::OPERATOR;
use brigade_chassis::openapi::{self, Contract};
use inventory_api::{problems, ShortLine};
use utoipa::openapi::schema::{ArrayBuilder, Schema};
use utoipa::PartialSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::store::Store;

/// The largest reservation body accepted. A hundred lines take about 6 KiB of JSON; anything
/// much larger is not a reservation, so it is refused before it is read.
const RESERVATION_BODY_LIMIT: usize = 32 * 1024;
/// The largest stock body accepted: `{"stock": N}`.
const STOCK_BODY_LIMIT: usize = 1024;

/// The inventory's routes. The chassis adds health, metrics and the middleware around them.
pub fn router(store: Store) -> Router {
    let routes = OpenApiRouter::new()
        // Stock levels for the edges' pages; and operators.
        .routes(openapi::callers(
            routes!(stock::list),
            &["gateway", "storefront", OPERATOR],
        ))
        .routes(openapi::callers(routes!(stock::one), &[OPERATOR]))
        // Stock is set by people (operators, the seeding tools), never by another service.
        .routes(openapi::callers(
            openapi::body_limit(routes!(stock::set), STOCK_BODY_LIMIT),
            &[OPERATOR],
        ))
        .routes(openapi::callers(
            routes!(reservations::one),
            &["orders", OPERATOR],
        ))
        // Reservations are the checkout saga's (orders).
        .routes(openapi::callers(
            openapi::body_limit(routes!(reservations::reserve), RESERVATION_BODY_LIMIT),
            &["orders"],
        ))
        .routes(openapi::callers(routes!(reservations::commit), &["orders"]))
        .routes(openapi::callers(
            routes!(reservations::release),
            &["orders"],
        ))
        // The promise checker reads the audit as the operator.
        .routes(openapi::callers(routes!(audit::audit), &[OPERATOR]));
    contract().serve(routes).with_state(store)
}

/// What the document says about the service as a whole.
fn contract() -> Contract {
    let codes = [
        problems::OUT_OF_STOCK,
        problems::RESERVATION_MISMATCH,
        problems::RESERVATION_EXPIRED,
        problems::ALREADY_COMMITTED,
        problems::STOCK_BELOW_RESERVED,
        problems::UNKNOWN_SKU,
    ];
    let description = format!(
        "Stock per SKU and reservations per order: a reservation holds units (all of its lines \
         or none) until it is committed (sold) or released, or it expires. Reserving, \
         committing and releasing are idempotent by order id. An internal API: orders reserves \
         at checkout; shoppers never call it. The inventory's own problem codes: {}. Every \
         instance also serves /livez, /readyz, /metrics and the chassis' parked-events routes \
         (/v1/events/parked).",
        codes.join(", ")
    );
    Contract::new(
        "Brigade inventory service",
        env!("CARGO_PKG_VERSION"),
        &description,
    )
    .problem_member("held", openapi::integer("Units held by reservations."))
    .problem_member("committed", openapi::integer("Units sold."))
    .problem_member(
        "reservation_status",
        openapi::text("The reservation's status."),
    )
    .problem_member(
        "short",
        Schema::Array(
            ArrayBuilder::new()
                .items(ShortLine::schema())
                .description(Some("The lines short of stock."))
                .build(),
        ),
    )
    .problem_member(
        "skus",
        openapi::texts("The SKUs the inventory does not stock."),
    )
}

// The time of a change: wall-clock milliseconds, since expiry times are shared with other
// instances and callers.
use brigade_chassis::time::unix_ms as now_ms;
