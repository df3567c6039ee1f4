//! The notifications service's HTTP API under `/v1`, plus its OpenAPI document. Every route needs
//! the signed-in shopper ([`brigade_chassis::auth::Principal`]) and reads that shopper's mailbox
//! only.

mod messages;

use axum::Router;
use brigade_chassis::auth::Verifier;
use brigade_chassis::identity::EDGES;
use brigade_chassis::openapi::{self, Contract};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::store::Store;

/// What every handler needs.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub verifier: Verifier,
}

brigade_chassis::verifier_in_state!(AppState, verifier);

/// The service's routes. The chassis adds health, metrics and the middleware around them.
pub fn router(state: AppState) -> Router {
    let routes = OpenApiRouter::new()
        // A shopper's messages, read through the edges.
        .routes(openapi::callers(routes!(messages::list), EDGES))
        .routes(openapi::callers(routes!(messages::one), EDGES));
    contract().serve(routes).with_state(state)
}

/// What the document says about the service as a whole.
fn contract() -> Contract {
    Contract::new(
        "Brigade notifications service",
        env!("CARGO_PKG_VERSION"),
        "Each shopper's mailbox: a message for every confirmed or cancelled order and every \
         refund and every shipment, written from the other \
         services' events, once per event. Messages are sent by email when an SMTP server is \
         configured (`delivery`: pending, then sent); otherwise the mailbox is the delivery \
         (`stored`). Every /v1 route needs `Authorization: Bearer <access token>` and reads that \
         shopper's messages only: another shopper's message is answered as an absent one. An \
         internal API: shoppers reach it through the gateway and the storefront. Every instance \
         also serves /livez, /readyz, /metrics and the chassis' parked-events routes \
         (/v1/events/parked).",
    )
}
