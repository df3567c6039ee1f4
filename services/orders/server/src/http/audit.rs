//! `GET /v1/audit`: unfinished sagas and orders by status, for the promise checker.

use axum::extract::State;
use brigade_chassis::extract::{Json, Query};
use brigade_chassis::Problem;
use orders_api::{paths, Audit, AuditOrdersQuery, AuditQuery, OrderStatusPage};

use super::AppState;
use crate::saga::now_ms;

/// Unfinished sagas and the number of orders by status.
#[utoipa::path(
    get,
    path = paths::AUDIT,
    operation_id = "audit",
    params(AuditQuery),
    responses((status = 200, description = "The audit", body = Audit)),
)]
pub(super) async fn audit(
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Audit>, Problem> {
    let age_s = query.validate()?;
    let age_ms = i64::try_from(age_s.saturating_mul(1000)).unwrap_or(i64::MAX);
    let audit = state
        .saga
        .store()
        .audit(now_ms().saturating_sub(age_ms))
        .await?;
    Ok(Json(audit))
}

/// Every order's id and status, paged by id.
#[utoipa::path(
    get,
    path = paths::AUDIT_ORDERS,
    operation_id = "auditOrders",
    params(AuditOrdersQuery),
    responses((status = 200, description = "One page of orders' statuses", body = OrderStatusPage)),
)]
pub(super) async fn orders(
    State(state): State<AppState>,
    Query(query): Query<AuditOrdersQuery>,
) -> Result<Json<OrderStatusPage>, Problem> {
    let limit = query.validate()?;
    Ok(Json(state.saga.store().statuses(query.after, limit).await?))
}
