//! `/v1/categories`.

use axum::extract::State;
use brigade_chassis::extract::{Json, NoParameters, Query};
use brigade_chassis::Problem;
use catalog_api::{paths, CategoryList};

use crate::store::Store;

/// Every category in display order, with its product count.
#[utoipa::path(
    get,
    path = paths::CATEGORIES,
    operation_id = "listCategories",
    responses((status = 200, description = "Every category", body = CategoryList)),
)]
pub(super) async fn list(
    State(store): State<Store>,
    _: Query<NoParameters>,
) -> Result<Json<CategoryList>, Problem> {
    let items = store.categories().await?;
    Ok(Json(CategoryList { items }))
}
