//! `/v1/products`: listing and search, one product, products by ids.

use axum::extract::State;
use brigade_chassis::extract::{Json, Path, Query};
use brigade_chassis::Problem;
use catalog_api::{ListProducts, Product, ProductBatch, ProductPage, ProductsByIds};
use uuid::Uuid;

use super::store_failed;
use crate::store::{ListError, Store};
use brigade_chassis::problem::quoted;

/// `GET /v1/products`.
pub(super) async fn list(
    State(store): State<Store>,
    Query(query): Query<ListProducts>,
) -> Result<Json<ProductPage>, Problem> {
    let query = query.validate()?;
    match store.list_products(&query).await {
        Ok(page) => Ok(Json(page)),
        Err(ListError::UnknownCategory { slug, known }) => Err(Problem::invalid_parameter(
            "category",
            format!(
                "unknown category `{slug}`; the categories are: {}",
                known.join(", ")
            ),
        )
        .with("categories", known)),
        Err(ListError::Store(e)) => Err(store_failed(&e)),
    }
}

/// `GET /v1/products/{id}`.
pub(super) async fn one(
    State(store): State<Store>,
    Path(id): Path<String>,
) -> Result<Json<Product>, Problem> {
    // Parsed here rather than by the extractor, so that the problem names the parameter.
    let id = Uuid::parse_str(&id).map_err(|_| {
        Problem::invalid_parameter(
            "id",
            format!(
                "{} is not a product id: ids are UUIDs, such as 4b0c3a5e-8f1d-5c2a-9e7b-1d2f3a4b5c6d",
                quoted(&id)
            ),
        )
    })?;
    match store.product(id).await {
        Ok(Some(product)) => Ok(Json(product)),
        Ok(None) => Err(Problem::not_found(format!(
            "there is no product with id {id}"
        ))),
        Err(e) => Err(store_failed(&e)),
    }
}

/// `POST /v1/products/batch`.
pub(super) async fn batch(
    State(store): State<Store>,
    Json(request): Json<ProductsByIds>,
) -> Result<Json<ProductBatch>, Problem> {
    request.validate()?;
    store
        .products_by_ids(&request.ids)
        .await
        .map(Json)
        .map_err(|e| store_failed(&e))
}
