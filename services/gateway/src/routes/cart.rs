//! `/api/v1/cart`: the signed-in shopper's cart.

use axum::extract::State;
use brigade_chassis::auth::Principal;
use brigade_chassis::extract::{Json, NoParameters, PathUuid, Query};
use brigade_chassis::Problem;
use cart_api::{paths, Cart, SetQuantity};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Gateway;

pub fn router() -> OpenApiRouter<Gateway> {
    OpenApiRouter::new()
        .routes(routes!(show, clear))
        .routes(routes!(set_quantity, remove))
}

/// The shopper's cart, with the catalog's current prices.
#[utoipa::path(
    get,
    path = "/cart",
    operation_id = "getCart",
    security(("bearer" = [])),
    responses((status = 200, description = "The cart", body = Cart)),
)]
async fn show(
    State(gateway): State<Gateway>,
    principal: Principal,
    _: Query<NoParameters>,
) -> Result<Json<Cart>, Problem> {
    Ok(Json(gateway.cart.cart(&principal.token).await?))
}

/// Add a product or set its quantity.
#[utoipa::path(
    put,
    path = "/cart/items/{product_id}",
    operation_id = "setQuantity",
    security(("bearer" = [])),
    params(("product_id" = Uuid, Path, description = "A product id from the catalog.")),
    request_body = SetQuantity,
    responses(
        (status = 200, description = "The cart", body = Cart),
        (status = 422, description = "unknown-product, cart-full, currency-mismatch, or \
            invalid-body", body = Problem),
    ),
)]
async fn set_quantity(
    State(gateway): State<Gateway>,
    principal: Principal,
    PathUuid(product_id, _): PathUuid<paths::ProductId>,
    _: Query<NoParameters>,
    Json(request): Json<SetQuantity>,
) -> Result<Json<Cart>, Problem> {
    let quantity = request.validate()?;
    let cart = gateway
        .cart
        .set_quantity(&principal.token, product_id, quantity)
        .await?;
    Ok(Json(cart))
}

/// Remove a product from the cart.
#[utoipa::path(
    delete,
    path = "/cart/items/{product_id}",
    operation_id = "removeItem",
    security(("bearer" = [])),
    params(("product_id" = Uuid, Path, description = "A product id from the catalog.")),
    responses((status = 200, description = "The cart", body = Cart)),
)]
async fn remove(
    State(gateway): State<Gateway>,
    principal: Principal,
    PathUuid(product_id, _): PathUuid<paths::ProductId>,
    _: Query<NoParameters>,
) -> Result<Json<Cart>, Problem> {
    let cart = gateway.cart.remove(&principal.token, product_id).await?;
    Ok(Json(cart))
}

/// Empty the cart.
#[utoipa::path(
    delete,
    path = "/cart",
    operation_id = "clearCart",
    security(("bearer" = [])),
    responses((status = 200, description = "The empty cart", body = Cart)),
)]
async fn clear(
    State(gateway): State<Gateway>,
    principal: Principal,
    _: Query<NoParameters>,
) -> Result<Json<Cart>, Problem> {
    Ok(Json(gateway.cart.clear(&principal.token).await?))
}
