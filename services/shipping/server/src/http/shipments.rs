//! `GET /v1/shipments/{order_id}`: one order's shipment.

use axum::extract::State;
use brigade_chassis::extract::{Json, PathUuid};
use brigade_chassis::problem::OrNotFound;
use brigade_chassis::Problem;
use shipping_api::{paths, Shipment};

use crate::store::Store;

/// One order's shipment.
///
/// Its status and tracking number. 404 until the order is confirmed and its `OrderConfirmed`
/// applied (usually within a second of the confirmation), and for orders without a destination.
#[utoipa::path(
    get,
    path = paths::SHIPMENT_PATTERN,
    operation_id = "shipment",
    params(("order_id" = Uuid, Path, description = "An order id from orders.")),
    responses(
        (status = 200, description = "The shipment", body = Shipment),
        (status = 404, description = "not-found: the order has no shipment", body = Problem),
    ),
)]
pub(super) async fn one(
    State(store): State<Store>,
    PathUuid(order_id, _): PathUuid<paths::OrderId>,
) -> Result<Json<Shipment>, Problem> {
    let shipment = store.shipment(order_id).await?;
    Ok(Json(shipment.or_not_found(|| {
        format!("order {order_id} has no shipment (yet): an order ships once it is confirmed")
    })?))
}
