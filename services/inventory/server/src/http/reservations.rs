//! `/v1/reservations/{order_id}`: reserve, read, commit, release.

use axum::extract::State;
use axum::http::StatusCode;
use brigade_chassis::extract::{Json, NoParameters, PathUuid, Query};
use brigade_chassis::problem::OrNotFound;
use brigade_chassis::Problem;
use inventory_api::{paths, problems, Reservation, ReserveRequest, ShortLine};
use uuid::Uuid;

use super::now_ms;
use crate::store::{CommitError, ReleaseError, ReserveError, Reserved, Store};

/// Reserve an order's lines.
///
/// All lines or none. 201 when this request reserved, 200 when the order had reserved the same
/// lines before.
#[utoipa::path(
    put,
    path = paths::RESERVATION,
    operation_id = "reserve",
    params(("order_id" = Uuid, Path, description = "The order's id.")),
    request_body = ReserveRequest,
    responses(
        (status = 200, description = "The order had reserved the same lines before", body = Reservation),
        (status = 201, description = "Reserved", body = Reservation),
        (status = 409, description = "out-of-stock: not enough stock (`short`); \
            reservation-mismatch: the order reserved other lines before", body = Problem),
        (status = 422, description = "unknown-sku: the inventory does not stock these SKUs \
            (`skus`); invalid-body: the JSON does not have the expected shape",
            body = Problem),
    ),
)]
pub(super) async fn reserve(
    State(store): State<Store>,
    PathUuid(order_id, _): PathUuid<paths::OrderId>,
    _: Query<NoParameters>,
    Json(body): Json<ReserveRequest>,
) -> Result<(StatusCode, Json<Reservation>), Problem> {
    let request = body.validate()?;
    match store.reserve(order_id, &request, now_ms()).await {
        Ok(Reserved::Now(reservation)) => Ok((StatusCode::CREATED, Json(reservation))),
        Ok(Reserved::Before(reservation)) => Ok((StatusCode::OK, Json(reservation))),
        Err(ReserveError::Mismatch { existing }) => Err(Problem::new(
            StatusCode::CONFLICT,
            problems::RESERVATION_MISMATCH,
            "Reservation mismatch",
            format!(
                "order {order_id} already has a reservation, with other lines ({}); an order reserves once",
                describe_lines(&existing)
            ),
        )),
        Err(ReserveError::OutOfStock { short }) => Err(Problem::new(
            StatusCode::CONFLICT,
            problems::OUT_OF_STOCK,
            "Out of stock",
            format!(
                "not enough stock for {}; nothing was reserved",
                describe_short(&short)
            ),
        )
        .with("short", short_member(&short))),
        Err(ReserveError::UnknownSkus(skus)) => Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            problems::UNKNOWN_SKU,
            "Unknown SKU",
            format!(
                "the inventory does not stock {}; nothing was reserved",
                skus.join(", ")
            ),
        )
        .with("skus", skus)),
        Err(ReserveError::Store(e)) => Err(Problem::store_failed(&e)),
    }
}

/// An order's reservation.
#[utoipa::path(
    get,
    path = paths::RESERVATION,
    operation_id = "reservation",
    params(("order_id" = Uuid, Path, description = "The order's id.")),
    responses(
        (status = 200, description = "The reservation", body = Reservation),
        (status = 404, description = "not-found: the order has no reservation", body = Problem),
    ),
)]
pub(super) async fn one(
    State(store): State<Store>,
    PathUuid(order_id, _): PathUuid<paths::OrderId>,
    _: Query<NoParameters>,
) -> Result<Json<Reservation>, Problem> {
    let reservation = store.reservation(order_id).await?;
    Ok(Json(reservation.or_not_found(|| no_reservation(order_id))?))
}

/// Commit an order's reservation: its units are sold.
///
/// Idempotent: committing a committed reservation answers it again.
#[utoipa::path(
    post,
    path = paths::COMMIT,
    operation_id = "commit",
    params(("order_id" = Uuid, Path, description = "The order's id.")),
    responses(
        (status = 200, description = "The committed reservation", body = Reservation),
        (status = 404, description = "not-found: the order has no reservation", body = Problem),
        (status = 409, description = "reservation-expired: the reservation expired or was \
            released and its units are no longer all available (`reservation_status`, `short`)",
            body = Problem),
    ),
)]
pub(super) async fn commit(
    State(store): State<Store>,
    PathUuid(order_id, _): PathUuid<paths::OrderId>,
    _: Query<NoParameters>,
) -> Result<Json<Reservation>, Problem> {
    match store.commit(order_id, now_ms()).await {
        Ok(reservation) => Ok(Json(reservation)),
        Err(CommitError::NotFound) => Err(Problem::not_found(no_reservation(order_id))),
        Err(CommitError::Gone { reservation, short }) => Err(Problem::new(
            StatusCode::CONFLICT,
            problems::RESERVATION_EXPIRED,
            "Reservation expired",
            format!(
                "the reservation of order {order_id} is {} and its units are no longer all available: {}",
                reservation.status,
                describe_short(&short)
            ),
        )
        .with("reservation_status", reservation.status.as_str())
        .with("short", short_member(&short))),
        Err(CommitError::Store(e)) => Err(Problem::store_failed(&e)),
    }
}

/// Release an order's reservation: its units are available again.
///
/// Idempotent: releasing a released or expired reservation answers it again.
#[utoipa::path(
    post,
    path = paths::RELEASE,
    operation_id = "release",
    params(("order_id" = Uuid, Path, description = "The order's id.")),
    responses(
        (status = 200, description = "The released reservation", body = Reservation),
        (status = 404, description = "not-found: the order has no reservation", body = Problem),
        (status = 409, description = "already-committed: the units are sold",
            body = Problem),
    ),
)]
pub(super) async fn release(
    State(store): State<Store>,
    PathUuid(order_id, _): PathUuid<paths::OrderId>,
    _: Query<NoParameters>,
) -> Result<Json<Reservation>, Problem> {
    match store.release(order_id, now_ms()).await {
        Ok(reservation) => Ok(Json(reservation)),
        Err(ReleaseError::NotFound) => Err(Problem::not_found(no_reservation(order_id))),
        Err(ReleaseError::AlreadyCommitted(_)) => Err(Problem::new(
            StatusCode::CONFLICT,
            problems::ALREADY_COMMITTED,
            "Already committed",
            format!("the reservation of order {order_id} is committed: its units are sold and cannot be released"),
        )),
        Err(ReleaseError::Store(e)) => Err(Problem::store_failed(&e)),
    }
}

fn no_reservation(order_id: Uuid) -> String {
    format!("order {order_id} has no reservation")
}

fn describe_lines(reservation: &Reservation) -> String {
    reservation
        .lines
        .iter()
        .map(|line| format!("{} × {}", line.quantity, line.sku))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_short(short: &[ShortLine]) -> String {
    short
        .iter()
        .map(|s| {
            format!(
                "{} ({} asked, {} available)",
                s.sku, s.requested, s.available
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn short_member(short: &[ShortLine]) -> serde_json::Value {
    // Plain strings and numbers always serialise.
    serde_json::to_value(short).unwrap_or_default()
}
