//! `/v1/orders`: the signed-in user's orders. Another user's order is answered exactly as an
//! absent one, so that ids cannot be probed.

use axum::extract::State;
use brigade_chassis::auth::Principal;
use brigade_chassis::extract::{Json, Path, Query};
use brigade_chassis::Problem;
use orders_api::{ListOrders, Order, OrderPage};
use uuid::Uuid;

use brigade_chassis::problem::quoted;

use super::{store_failed, AppState};

/// `GET /v1/orders`.
pub(super) async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ListOrders>,
) -> Result<Json<OrderPage>, Problem> {
    let query = query.validate()?;
    state
        .saga
        .store()
        .orders_of(principal.user_id, &query)
        .await
        .map(Json)
        .map_err(|e| store_failed(&e))
}

/// `GET /v1/orders/{id}`.
pub(super) async fn one(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Order>, Problem> {
    // Parsed here rather than by the extractor, so that the problem names the parameter.
    let id = Uuid::parse_str(&id).map_err(|_| {
        Problem::invalid_parameter(
            "id",
            format!("{} is not an order id: ids are UUIDs", quoted(&id)),
        )
    })?;
    match state.saga.store().order_of(principal.user_id, id).await {
        Ok(Some(order)) => Ok(Json(order)),
        Ok(None) => Err(Problem::not_found(format!(
            "you have no order with id {id}"
        ))),
        Err(e) => Err(store_failed(&e)),
    }
}
