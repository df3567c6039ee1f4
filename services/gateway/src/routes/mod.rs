//! One module per public resource, merged here, with the public API's OpenAPI document generated
//! from them.

mod account;
mod cart;
mod catalog;
mod currency;
mod messages;
mod orders;
mod product_page;
mod recommendations;
mod shipping;

use axum::Router;
use brigade_chassis::openapi::Contract;
use utoipa_axum::router::OpenApiRouter;

use crate::Gateway;

/// Where `lib.rs` nests these routes; the document's paths are the ones shoppers call.
const PREFIX: &str = "/api/v1";

pub fn router() -> Router<Gateway> {
    let routes = OpenApiRouter::new()
        .merge(catalog::router())
        .merge(account::router())
        .merge(cart::router())
        .merge(orders::router())
        .merge(messages::router())
        .merge(recommendations::router())
        .merge(shipping::router())
        .merge(product_page::router())
        .merge(currency::router());
    contract().serve(routes)
}

/// What the document says about the public API as a whole.
fn contract() -> Contract {
    Contract::new(
        "Brigade public API",
        env!("CARGO_PKG_VERSION"),
        "The shoppers' JSON API, served by the gateway under /api/v1. Errors are RFC 9457 \
         problem details; see docs/problems.md for the types. A service behind the gateway \
         that fails answers 502, one that is unavailable 503, one too slow 504.",
    )
    .served_under(PREFIX)
    .calls_services()
}
