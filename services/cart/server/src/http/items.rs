//! `/v1/cart/items/{product_id}`: one line.

use axum::extract::State;
use brigade_chassis::auth::Principal;
use brigade_chassis::extract::{Json, NoParameters, PathUuid, Query};
use brigade_chassis::Problem;
use cart_api::{paths, Cart, SetQuantity};

use super::{catalog_failed, change, current_prices, unknown_product, AppState};
use crate::lines;

/// Add a product or set its quantity.
///
/// With the catalog's sku, name and price at this moment (never the caller's). The other lines
/// are re-priced in the same catalog call. At most 50 distinct products; one currency per cart.
#[utoipa::path(
    put,
    path = paths::ITEM_PATTERN,
    operation_id = "setQuantity",
    security(("bearer" = [])),
    params(("product_id" = Uuid, Path, description = "A product id from the catalog.")),
    request_body = SetQuantity,
    responses(
        (status = 200, description = "The cart", body = Cart),
        (status = 422, description = "unknown-product: the catalog has no such product \
            (`product_id`); cart-full (`max_lines`); currency-mismatch (`cart_currency`, \
            `product_currency`); invalid-body: the JSON does not have the expected shape",
            body = Problem),
        (status = 502, description = "bad-gateway: the catalog failed", body = Problem),
        (status = 503, description = "service-unavailable: the catalog is unavailable, so the \
            product cannot be priced; nothing was changed", body = Problem),
    ),
)]
pub(super) async fn set_quantity(
    principal: Principal,
    State(state): State<AppState>,
    PathUuid(product_id, _): PathUuid<paths::ProductId>,
    _: Query<NoParameters>,
    Json(body): Json<SetQuantity>,
) -> Result<Json<Cart>, Problem> {
    let quantity = body.validate()?;
    let user_id = principal.user_id;
    let stored = state.store.load(user_id).await?;
    let mut ids = stored.product_ids();
    if !ids.contains(&product_id) {
        ids.push(product_id);
    }
    let prices = current_prices(&state.catalog, &ids)
        .await
        .map_err(|e| catalog_failed(&e))?;
    let product = prices
        .items
        .iter()
        .find(|p| p.id == product_id)
        .ok_or_else(|| unknown_product(product_id))?;
    change(&state, user_id, Some(&prices), |lines, version| {
        lines::set_quantity(lines, product, quantity, version)
    })
    .await
    .map(Json)
}

/// Remove a product.
///
/// Removes the line; an absent line is fine. Works when the catalog is down (the other lines
/// keep their stored prices).
#[utoipa::path(
    delete,
    path = paths::ITEM_PATTERN,
    operation_id = "removeItem",
    security(("bearer" = [])),
    params(("product_id" = Uuid, Path, description = "A product id from the catalog.")),
    responses((status = 200, description = "The cart", body = Cart)),
)]
pub(super) async fn remove(
    principal: Principal,
    State(state): State<AppState>,
    PathUuid(product_id, _): PathUuid<paths::ProductId>,
    _: Query<NoParameters>,
) -> Result<Json<Cart>, Problem> {
    let user_id = principal.user_id;
    let stored = state.store.load(user_id).await?;
    let others: Vec<_> = stored
        .product_ids()
        .into_iter()
        .filter(|id| *id != product_id)
        .collect();
    let prices = match current_prices(&state.catalog, &others).await {
        Ok(prices) => Some(prices),
        Err(error) => {
            tracing::warn!(%error, "the catalog could not re-price a cart; removing anyway");
            None
        }
    };
    change(&state, user_id, prices.as_ref(), |lines, _| {
        lines::remove(lines, product_id);
        Ok(())
    })
    .await
    .map(Json)
}
