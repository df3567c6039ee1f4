//! `/v1/recommendations/...`: for a product, for a user.

use axum::extract::State;
use brigade_chassis::extract::{Json, Path, Query};
use brigade_chassis::Problem;
use recommendations_api::{parse_product_id, parse_user_id, Recommendations, RecommendationsQuery};

use super::store_failed;
use crate::store::Store;

/// `GET /v1/recommendations/products/{product_id}?limit=N`.
pub(super) async fn for_product(
    State(store): State<Store>,
    Path(segment): Path<String>,
    Query(query): Query<RecommendationsQuery>,
) -> Result<Json<Recommendations>, Problem> {
    let product_id = parse_product_id("product_id", &segment)?;
    let limit = query.validate()?;
    store
        .for_product(product_id, limit)
        .await
        .map(Json)
        .map_err(|e| store_failed(&e))
}

/// `GET /v1/recommendations/users/{user_id}?limit=N`.
pub(super) async fn for_user(
    State(store): State<Store>,
    Path(segment): Path<String>,
    Query(query): Query<RecommendationsQuery>,
) -> Result<Json<Recommendations>, Problem> {
    let user_id = parse_user_id(&segment)?;
    let limit = query.validate()?;
    store
        .for_user(user_id, limit)
        .await
        .map(Json)
        .map_err(|e| store_failed(&e))
}
