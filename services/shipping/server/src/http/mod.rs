//! Shipping's HTTP API under `/v1`, plus its OpenAPI document. Handlers check input with
//! `shipping_api`'s rules, compute quotes with [`crate::rates`] or ask the [`Store`], and
//! answer JSON or a problem.

mod quotes;
mod shipments;

use axum::Router;
use brigade_chassis::identity::OPERATOR;
use brigade_chassis::openapi::{self, Contract};
use shipping_api::problems;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::store::Store;

/// The largest quote body accepted: a hundred lines take about 8 KiB of JSON.
const QUOTE_BODY_LIMIT: usize = 32 * 1024;

/// The service's routes. The chassis adds health, metrics, the event routes and the middleware
/// around them.
pub fn router(store: Store) -> Router {
    let routes = OpenApiRouter::new()
        // Quotes for the edges' pages and for orders at checkout.
        .routes(openapi::callers(
            openapi::body_limit(routes!(quotes::quote), QUOTE_BODY_LIMIT),
            &["gateway", "storefront", "orders"],
        ))
        .routes(openapi::callers(
            routes!(shipments::one),
            &["gateway", "storefront", "orders", OPERATOR],
        ));
    contract().serve(routes).with_state(store)
}

/// What the document says about the service as a whole.
fn contract() -> Contract {
    let description = format!(
        "Shipping quotes (items and a destination country: a cost in euro cents, the carrier \
         and an estimated delivery date, by a fixed table of zones and weights) and shipments: \
         each confirmed order with a destination gets exactly one, with a tracking number, made \
         when orders' OrderConfirmed arrives and announced as ShipmentCreated. An internal API: \
         orders quotes at checkout, the gateway and the storefront quote for shoppers. The \
         service's own problem code: {}. Every instance also serves /livez, /readyz, /metrics \
         and the chassis' event routes (/v1/events/feed, /v1/events/parked).",
        problems::UNKNOWN_COUNTRY
    );
    Contract::new(
        "Brigade shipping service",
        env!("CARGO_PKG_VERSION"),
        &description,
    )
    .problem_member(
        "country",
        openapi::text("The country the shop does not ship to."),
    )
}
