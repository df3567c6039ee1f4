//! `GET /v1/ledger`.

use axum::extract::State;
use brigade_chassis::extract::{Json, Query};
use brigade_chassis::Problem;
use payments_api::{paths, LedgerPage, LedgerQuery};

use crate::processor::Processor;

/// One page of the ledger, oldest first; `next` is the cursor of the following page.
#[utoipa::path(
    get,
    path = paths::LEDGER,
    operation_id = "ledger",
    params(LedgerQuery),
    responses((status = 200, description = "One page of the ledger", body = LedgerPage)),
)]
pub(super) async fn page(
    State(processor): State<Processor>,
    Query(query): Query<LedgerQuery>,
) -> Result<Json<LedgerPage>, Problem> {
    let filter = query.validate()?;
    Ok(Json(processor.store().ledger(&filter).await?))
}
