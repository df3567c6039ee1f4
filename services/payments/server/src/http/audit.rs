//! `GET /v1/audit`.

use axum::extract::State;
use brigade_chassis::extract::{Json, NoParameters, Query};
use brigade_chassis::Problem;
use payments_api::{paths, Audit};

use crate::processor::Processor;

/// Every charge checked against the ledger; `violations` is empty when the promises hold.
#[utoipa::path(
    get,
    path = paths::AUDIT,
    operation_id = "audit",
    responses((status = 200, description = "The audit", body = Audit)),
)]
pub(super) async fn audit(
    State(processor): State<Processor>,
    _: Query<NoParameters>,
) -> Result<Json<Audit>, Problem> {
    Ok(Json(processor.store().audit().await?))
}
