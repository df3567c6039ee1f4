//! The orders service's HTTP API under `/v1`, plus its OpenAPI document. Handlers check input,
//! ask the store or start the saga, and answer JSON or a problem.

mod audit;
mod checkout;
mod orders;

use std::time::Duration;

use axum::Router;
use brigade_chassis::auth::Verifier;
use brigade_chassis::identity::{EDGES, OPERATOR};
use brigade_chassis::openapi::{self, Contract};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::saga::Saga;

/// A checkout body is a card number and an address; anything much larger is not a checkout.
const CHECKOUT_BODY_LIMIT: usize = 4 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub saga: Saga,
    pub verifier: Verifier,
    /// How much of a checkout request's deadline is kept back for answering after the wait.
    pub answer_margin: Duration,
}

brigade_chassis::verifier_in_state!(AppState, verifier);

/// The orders routes. The chassis adds health, metrics and the middleware around them.
pub fn router(state: AppState) -> Router {
    let routes = OpenApiRouter::new()
        // Shoppers' checkouts and orders, through the edges.
        .routes(openapi::callers(
            openapi::body_limit(routes!(checkout::checkout), CHECKOUT_BODY_LIMIT),
            EDGES,
        ))
        .routes(openapi::callers(routes!(orders::list), EDGES))
        .routes(openapi::callers(routes!(orders::one), EDGES))
        // Every shopper's orders at once: the operators' (the promise checker) only.
        .routes(openapi::callers(routes!(audit::audit), &[OPERATOR]))
        .routes(openapi::callers(routes!(audit::orders), &[OPERATOR]));
    contract().serve(routes).with_state(state)
}

/// What the document says about the service as a whole.
fn contract() -> Contract {
    Contract::new(
        "Brigade orders",
        env!("CARGO_PKG_VERSION"),
        "Checkout and orders. A checkout turns the signed-in user's cart into an order and runs \
         the checkout saga (reserve stock, charge the card, commit the stock), answering with \
         the final order, or 202 with the order still pending and its Location. With a \
         shipping address, shipping quotes the order's shipping, whose cost the total charged \
         includes, and the order later shows its tracking number (shipping's ShipmentCreated). \
         The user's \
         routes need `Authorization: Bearer <access token>`; the audit routes are for the \
         promise checker. An internal API: shoppers reach it through the gateway. Every \
         instance also serves /livez, /readyz, /metrics and the chassis' parked-events routes \
         (/v1/events/parked).",
    )
    .problem_member(
        "product_ids",
        openapi::texts("product-unavailable: the products no longer sold."),
    )
    .problem_member(
        "order_id",
        openapi::text("payments-unavailable: the order cancelled."),
    )
}
