//! `/api/v1/cart`: the signed-in shopper's cart.

use axum::extract::State;
use axum::routing::{get, put};
use axum::Router;
use brigade_chassis::auth::Principal;
use brigade_chassis::extract::{Json, NoParameters, Path, Query};
use brigade_chassis::Problem;
use cart_api::{parse_product_id, Cart, SetQuantity};

use crate::Gateway;

pub fn router() -> Router<Gateway> {
    Router::new()
        .route("/cart", get(show).delete(clear))
        .route("/cart/items/{product_id}", put(set_quantity).delete(remove))
}

async fn show(
    State(gateway): State<Gateway>,
    principal: Principal,
    _: Query<NoParameters>,
) -> Result<Json<Cart>, Problem> {
    let cart = gateway
        .cart
        .cart(&principal.token)
        .await
        .map_err(|e| e.to_problem())?;
    Ok(Json(cart))
}

async fn set_quantity(
    State(gateway): State<Gateway>,
    principal: Principal,
    Path(product_id): Path<String>,
    _: Query<NoParameters>,
    Json(request): Json<SetQuantity>,
) -> Result<Json<Cart>, Problem> {
    let product_id = parse_product_id(&product_id).map_err(Problem::from)?;
    let quantity = request.validate().map_err(Problem::from)?;
    let cart = gateway
        .cart
        .set_quantity(&principal.token, product_id, quantity)
        .await
        .map_err(|e| e.to_problem())?;
    Ok(Json(cart))
}

async fn remove(
    State(gateway): State<Gateway>,
    principal: Principal,
    Path(product_id): Path<String>,
    _: Query<NoParameters>,
) -> Result<Json<Cart>, Problem> {
    let product_id = parse_product_id(&product_id).map_err(Problem::from)?;
    let cart = gateway
        .cart
        .remove(&principal.token, product_id)
        .await
        .map_err(|e| e.to_problem())?;
    Ok(Json(cart))
}

async fn clear(
    State(gateway): State<Gateway>,
    principal: Principal,
    _: Query<NoParameters>,
) -> Result<Json<Cart>, Problem> {
    let cart = gateway
        .cart
        .clear(&principal.token)
        .await
        .map_err(|e| e.to_problem())?;
    Ok(Json(cart))
}
