//! The service's HTTP API under `/v1`, plus its OpenAPI document. Handlers check input with
//! `recommendations_api`'s rules, ask the [`Store`], and answer JSON or a problem.
//!
//! Neither route answers 404 for an id: a product the model never heard of may be new, and a
//! user who never bought anything still gets the popular products.

mod recommendations;

use axum::Router;
use brigade_chassis::identity::EDGES;
use brigade_chassis::openapi::{self, Contract};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::store::Store;

/// The service's routes. The chassis adds health, metrics, the event routes and the middleware
/// around them.
pub fn router(store: Store) -> Router {
    let routes = OpenApiRouter::new()
        // Only the edges show recommendations.
        .routes(openapi::callers(
            routes!(recommendations::for_product),
            EDGES,
        ))
        .routes(openapi::callers(routes!(recommendations::for_user), EDGES));
    contract().serve(routes).with_state(store)
}

/// What the document says about the service as a whole.
fn contract() -> Contract {
    Contract::new(
        "Brigade recommendations service",
        env!("CARGO_PKG_VERSION"),
        "Products to show next to a product (bought together) and to a user (for you), from a \
         co-purchase and popularity model the service builds from events: orders' \
         OrderConfirmed and the catalog's ProductChanged. It calls no service while answering. \
         Ids the model never heard of are not an error (a new product, a user with no orders) \
         and get the popular products. An internal API: shoppers reach it through the gateway. \
         Every instance also serves /livez, /readyz, /metrics and the chassis' parked-events \
         routes (/v1/events/parked).",
    )
}
