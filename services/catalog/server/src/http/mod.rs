//! The catalog's HTTP API under `/v1`, plus its OpenAPI document. Handlers check input, ask the
//! [`Store`], and answer JSON or a problem; they hold no business rules of their own beyond
//! turning the store's answers into HTTP.

mod categories;
mod products;

use axum::Router;
use brigade_chassis::identity::OPERATOR;
use brigade_chassis::openapi::{self, Contract};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::store::Store;

/// The largest batch body accepted. A hundred ids in JSON take about 4 KiB; anything much
/// larger is not a batch request, so it is refused before it is read.
const BATCH_BODY_LIMIT: usize = 16 * 1024;

/// Who reads the catalog: the edges, cart (prices and validity) and orders (at checkout); and
/// operators.
const READERS: &[&str] = &["gateway", "storefront", "cart", "orders", OPERATOR];

/// The catalog's routes. The chassis adds health, metrics and the middleware around them.
pub fn router(store: Store) -> Router {
    let routes = OpenApiRouter::new()
        .routes(openapi::callers(routes!(products::list), READERS))
        .routes(openapi::callers(
            openapi::body_limit(routes!(products::batch), BATCH_BODY_LIMIT),
            READERS,
        ))
        .routes(openapi::callers(routes!(products::one), READERS))
        .routes(openapi::callers(routes!(categories::list), READERS));
    contract().serve(routes).with_state(store)
}

/// What the document says about the service as a whole.
fn contract() -> Contract {
    Contract::new(
        "Brigade catalog service",
        env!("CARGO_PKG_VERSION"),
        "The products on sale and their categories: listing with filters, sorting and \
         full-text search, one product, products by ids. An internal API: shoppers reach it \
         through the gateway. Every instance also serves /livez, /readyz and /metrics.",
    )
    .problem_member(
        "categories",
        openapi::texts("With an unknown category: the known ones."),
    )
}
