//! `/v1/recommendations/...`: for a product, for a user.

use axum::extract::State;
use brigade_chassis::extract::{Json, PathUuid, Query};
use brigade_chassis::Problem;
use recommendations_api::{paths, Recommendations, RecommendationsQuery};

use crate::store::Store;

/// Products bought together with a product.
///
/// The products most often bought in the same confirmed orders as this one (`reason:
/// bought_together`), then, up to `limit`, the most bought products (`reason: popular`) not
/// already listed. Never the product itself. A product the model never heard of gets the popular
/// products with `fallback: true`, not a 404.
#[utoipa::path(
    get,
    path = paths::PRODUCT_PATTERN,
    operation_id = "recommendForProduct",
    params(
        ("product_id" = Uuid, Path, description = "A product id from the catalog."),
        RecommendationsQuery,
    ),
    responses((status = 200, description = "The products to show, best first", body = Recommendations)),
)]
pub(super) async fn for_product(
    State(store): State<Store>,
    PathUuid(product_id, _): PathUuid<paths::ProductId>,
    Query(query): Query<RecommendationsQuery>,
) -> Result<Json<Recommendations>, Problem> {
    let limit = query.validate()?;
    Ok(Json(store.for_product(product_id, limit).await?))
}

/// Products to show to a user.
///
/// Products bought together with what the user bought, then popular ones; never a product the
/// user already bought. A user with no orders gets the popular products.
#[utoipa::path(
    get,
    path = paths::USER_PATTERN,
    operation_id = "recommendForUser",
    params(
        ("user_id" = Uuid, Path, description = "A user id (the `sub` of the user's access token)."),
        RecommendationsQuery,
    ),
    responses((status = 200, description = "The products to show, best first", body = Recommendations)),
)]
pub(super) async fn for_user(
    State(store): State<Store>,
    PathUuid(user_id, _): PathUuid<paths::UserId>,
    Query(query): Query<RecommendationsQuery>,
) -> Result<Json<Recommendations>, Problem> {
    let limit = query.validate()?;
    Ok(Json(store.for_user(user_id, limit).await?))
}
