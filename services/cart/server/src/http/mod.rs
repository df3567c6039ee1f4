//! The cart's HTTP API under `/v1`, plus its OpenAPI document. Every route needs the signed-in
//! user ([`Principal`]) and works on that user's cart only.
//!
//! Every answer that shows a cart has its prices confirmed with the catalog in the same request
//! (one batch call), except when the catalog cannot be asked: then reads and removals still work,
//! with the stored prices and `prices_current: false`, and only adding needs the catalog.

mod cart;
mod items;

use axum::Router;
use brigade_chassis::auth::Verifier;
use brigade_chassis::client::Error as ClientError;
use brigade_chassis::identity::EDGES;
use brigade_chassis::openapi::{self, Contract};
use brigade_chassis::Problem;
use cart_api::{problems, Cart, MAX_LINES};
use catalog_api::{CatalogClient, ProductBatch};
use http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::lines::{self, Line, Repricing, RuleError};
use crate::store::Store;

/// The largest body accepted: `{"quantity": 99}` is 16 bytes.
const BODY_LIMIT: usize = 1024;

/// What every handler needs.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub catalog: CatalogClient,
    pub verifier: Verifier,
}

brigade_chassis::verifier_in_state!(AppState, verifier);

/// The cart's routes. The chassis adds health, metrics and the middleware around them.
pub fn router(state: AppState) -> Router {
    let routes = OpenApiRouter::new()
        // The edges on the shopper's behalf; orders reads the cart at checkout.
        .routes(openapi::callers(
            routes!(cart::get, cart::clear),
            &["gateway", "storefront", "orders"],
        ))
        .routes(openapi::callers(
            openapi::body_limit(routes!(items::set_quantity, items::remove), BODY_LIMIT),
            EDGES,
        ));
    contract().serve(routes).with_state(state)
}

/// What the document says about the service as a whole.
fn contract() -> Contract {
    Contract::new(
        "Brigade cart service",
        env!("CARGO_PKG_VERSION"),
        "One cart per signed-in user, its lines validated and priced by the catalog. Every /v1 \
         route needs `Authorization: Bearer <access token>` (issued by the users service) and \
         works on that user's cart only: no path carries a user id. Every answer that shows a \
         cart confirms its prices with the catalog in the same request; when the catalog cannot \
         be reached, reading and removing still work with the stored prices \
         (`prices_current: false`), and only adding needs the catalog. The cart also consumes \
         orders' OrderConfirmed events. An internal API: shoppers reach it through the gateway. \
         Every instance also serves /livez, /readyz, /metrics and the chassis' parked-events \
         routes (/v1/events/parked).",
    )
    .problem_member("product_id", openapi::text("unknown-product: the product."))
    .problem_member(
        "max_lines",
        openapi::integer("cart-full: the most products a cart holds."),
    )
    .problem_member(
        "cart_currency",
        openapi::text("currency-mismatch: the cart's currency."),
    )
    .problem_member(
        "product_currency",
        openapi::text("currency-mismatch: the product's currency."),
    )
}

/// Asks the catalog for the current sku, name and price of `ids`: a cart's lines and perhaps
/// one more product, so at most [`MAX_LINES`] + 1, well within the catalog's batch limit.
async fn current_prices(
    catalog: &CatalogClient,
    ids: &[Uuid],
) -> Result<ProductBatch, ClientError> {
    if ids.is_empty() {
        return Ok(ProductBatch {
            items: Vec::new(),
            missing: Vec::new(),
        });
    }
    catalog.products_by_ids(ids).await
}

/// Re-prices the user's lines with `prices` (when the catalog answered) and applies `edit`, in
/// one transaction, and answers the cart.
async fn change(
    state: &AppState,
    user_id: Uuid,
    prices: Option<&ProductBatch>,
    edit: impl FnOnce(&mut Vec<Line>, i64) -> Result<(), RuleError>,
) -> Result<Cart, Problem> {
    let changed = state
        .store
        .change(user_id, |lines, version| {
            let repricing = match prices {
                Some(batch) => lines::reprice(lines, batch),
                None => Repricing::stale(),
            };
            edit(lines, version).map(|()| repricing)
        })
        .await?
        .map_err(refused)?;
    Ok(lines::to_wire(user_id, &changed.cart, changed.outcome))
}

/// The answer when the catalog was needed and could not answer.
fn catalog_failed(error: &ClientError) -> Problem {
    tracing::warn!(%error, "the catalog could not price the cart");
    match error {
        // The catalog refusing the cart's own request is the cart's bug, not the caller's.
        ClientError::Status { problem, .. } if problem.status_code().is_client_error() => {
            Problem::internal()
        }
        ClientError::Unavailable { .. } | ClientError::Transport { .. } => {
            Problem::service_unavailable(
                "the catalog is unavailable, so the product cannot be priced; try again shortly",
            )
        }
        other => other.to_problem(),
    }
}

fn refused(error: RuleError) -> Problem {
    match error {
        RuleError::CartFull => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            problems::CART_FULL,
            "Cart full",
            format!(
                "the cart already holds {MAX_LINES} different products, the most it may; \
                 remove one before adding another"
            ),
        )
        .with("max_lines", MAX_LINES),
        RuleError::CurrencyMismatch { cart, product } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            problems::CURRENCY_MISMATCH,
            "Currency mismatch",
            format!(
                "the cart's prices are in {cart} but this product is priced in {product}; \
                 a cart holds one currency"
            ),
        )
        .with("cart_currency", cart)
        .with("product_currency", product),
    }
}

fn unknown_product(product_id: Uuid) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        problems::UNKNOWN_PRODUCT,
        "Unknown product",
        format!("there is no product with id {product_id} in the catalog"),
    )
    .with("product_id", product_id.to_string())
}
