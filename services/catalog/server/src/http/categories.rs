//! `/v1/categories`.

use axum::extract::State;
use brigade_chassis::extract::{Json, NoParameters, Query};
use brigade_chassis::Problem;
use catalog_api::CategoryList;

use super::store_failed;
use crate::store::Store;

/// `GET /v1/categories`: every category in display order, with its product count.
pub(super) async fn list(
    State(store): State<Store>,
    _: Query<NoParameters>,
) -> Result<Json<CategoryList>, Problem> {
    store
        .categories()
        .await
        .map(|items| Json(CategoryList { items }))
        .map_err(|e| store_failed(&e))
}
