//! One module per public resource, merged here.

mod account;
mod cart;
mod catalog;
mod orders;
mod product_page;
mod recommendations;

use axum::Router;

use crate::Gateway;

/// The public API's OpenAPI document.
pub const OPENAPI: &str = include_str!("../../openapi.json");

pub fn router() -> Router<Gateway> {
    Router::new()
        .merge(catalog::router())
        .merge(account::router())
        .merge(cart::router())
        .merge(orders::router())
        .merge(recommendations::router())
        .merge(product_page::router())
        .route(
            "/openapi.json",
            axum::routing::get(|| async { ([("content-type", "application/json")], OPENAPI) }),
        )
}
