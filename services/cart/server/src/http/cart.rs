//! `/v1/cart`: the whole cart.

use axum::extract::State;
use brigade_chassis::auth::Principal;
use brigade_chassis::extract::{Json, NoParameters, Query};
use brigade_chassis::Problem;
use cart_api::{paths, Cart};
use catalog_api::ProductBatch;

use super::{change, current_prices, AppState};
use crate::lines::{self, Repricing};

/// The user's cart, re-priced.
///
/// The cart with the catalog's current prices. Lines whose product is gone are dropped (and
/// named in `removed`); a change of price is stored (and counts as a change). When the catalog
/// cannot be asked, the stored prices, with `prices_current: false`. A user without a cart gets
/// an empty one (version 0), never a 404.
#[utoipa::path(
    get,
    path = paths::CART,
    operation_id = "getCart",
    security(("bearer" = [])),
    responses((status = 200, description = "The cart", body = Cart)),
)]
pub(super) async fn get(
    principal: Principal,
    State(state): State<AppState>,
    _: Query<NoParameters>,
) -> Result<Json<Cart>, Problem> {
    let user_id = principal.user_id;
    let stored = state.store.load(user_id).await?;
    let prices = match current_prices(&state.catalog, &stored.product_ids()).await {
        Ok(prices) => prices,
        Err(error) => {
            tracing::warn!(%error, "the catalog could not re-price a cart; answering the stored prices");
            return Ok(Json(lines::to_wire(user_id, &stored, Repricing::stale())));
        }
    };
    // Most reads find the prices unchanged: answer without taking the write lock.
    let mut repriced = stored.lines.clone();
    let repricing = lines::reprice(&mut repriced, &prices);
    if lines::diff(&stored.lines, &repriced).is_empty() {
        return Ok(Json(lines::to_wire(user_id, &stored, repricing)));
    }
    change(&state, user_id, Some(&prices), |_, _| Ok(()))
        .await
        .map(Json)
}

/// Empty the cart.
///
/// Emptying an empty cart changes nothing (the version stays).
#[utoipa::path(
    delete,
    path = paths::CART,
    operation_id = "clearCart",
    security(("bearer" = [])),
    responses((status = 200, description = "The empty cart", body = Cart)),
)]
pub(super) async fn clear(
    principal: Principal,
    State(state): State<AppState>,
    _: Query<NoParameters>,
) -> Result<Json<Cart>, Problem> {
    // An empty cart has no price to confirm: its answer is current whatever the catalog's state.
    let nothing_to_price = ProductBatch {
        items: Vec::new(),
        missing: Vec::new(),
    };
    change(
        &state,
        principal.user_id,
        Some(&nothing_to_price),
        |lines, _| {
            lines.clear();
            Ok(())
        },
    )
    .await
    .map(Json)
}
