//! `/v1/audit`.

use axum::extract::State;
use brigade_chassis::extract::{Json, NoParameters, Query};
use brigade_chassis::Problem;
use inventory_api::{paths, Audit};

use crate::store::Store;

/// The SKUs whose counters disagree with their reservations (none, always).
#[utoipa::path(
    get,
    path = paths::AUDIT,
    operation_id = "audit",
    responses((status = 200, description = "The disagreements found", body = Audit)),
)]
pub(super) async fn audit(
    State(store): State<Store>,
    _: Query<NoParameters>,
) -> Result<Json<Audit>, Problem> {
    Ok(Json(store.audit().await?))
}
