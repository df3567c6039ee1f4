//! `/v1/orders`: the signed-in user's orders. Another user's order is answered exactly as an
//! absent one, so that ids cannot be probed.

use axum::extract::State;
use brigade_chassis::auth::Principal;
use brigade_chassis::extract::{Json, PathUuid, Query};
use brigade_chassis::problem::OrNotFound;
use brigade_chassis::Problem;
use orders_api::{paths, ListOrders, Order, OrderPage};

use super::AppState;

/// The signed-in user's orders, newest first.
#[utoipa::path(
    get,
    path = paths::ORDERS,
    operation_id = "listOrders",
    security(("bearer" = [])),
    params(ListOrders),
    responses((status = 200, description = "One page of the user's orders", body = OrderPage)),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ListOrders>,
) -> Result<Json<OrderPage>, Problem> {
    let query = query.validate()?;
    let page = state
        .saga
        .store()
        .orders_of(principal.user_id, &query)
        .await?;
    Ok(Json(page))
}

/// One of the signed-in user's orders.
///
/// Another user's order is answered exactly as an absent one.
#[utoipa::path(
    get,
    path = paths::ORDER_PATTERN,
    operation_id = "getOrder",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "An order id.")),
    responses(
        (status = 200, description = "The order", body = Order),
        (status = 404, description = "not-found: the user has no order with this id",
            body = Problem),
    ),
)]
pub(super) async fn one(
    State(state): State<AppState>,
    principal: Principal,
    PathUuid(id, _): PathUuid<paths::OrderId>,
) -> Result<Json<Order>, Problem> {
    let order = state.saga.store().order_of(principal.user_id, id).await?;
    Ok(Json(order.or_not_found(|| {
        format!("you have no order with id {id}")
    })?))
}
