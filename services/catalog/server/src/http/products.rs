//! `/v1/products`: listing and search, one product, products by ids.

use axum::extract::State;
use brigade_chassis::extract::{Json, PathUuid, Query};
use brigade_chassis::problem::OrNotFound;
use brigade_chassis::Problem;
use catalog_api::{
    paths, ListProducts, Product, ProductAnswers, ProductBatch, ProductPage, ProductPath,
    ProductsByIds,
};

use crate::store::{ListError, Store};

/// List and search products.
///
/// One page of products matching every filter given. Unknown query parameters are refused (400
/// invalid-query), so that a misspelt filter is never silently ignored.
#[utoipa::path(
    get,
    path = paths::PRODUCTS,
    operation_id = "listProducts",
    params(ListProducts),
    responses(
        (status = 200, description = "One page of products", body = ProductPage),
        (status = 400, description = "invalid-parameter (`parameter` names it); an unknown \
            category's problem lists the known ones in `categories`; invalid-query: an unknown \
            parameter", body = Problem),
    ),
)]
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
        Err(ListError::Store(e)) => Err(Problem::store_failed(&e)),
    }
}

/// One product.
#[utoipa::path(
    get,
    path = "/v1/products/{id}",
    operation_id = "getProduct",
    params(ProductPath),
    responses(ProductAnswers)
)]
pub(super) async fn one(
    State(store): State<Store>,
    PathUuid(id, _): PathUuid<paths::ProductId>,
) -> Result<Json<Product>, Problem> {
    let product = store.product(id).await?;
    Ok(Json(product.or_not_found(|| {
        format!("there is no product with id {id}")
    })?))
}

/// Products by ids.
///
/// The products found, in the order asked for (each once), and the ids that name no product.
#[utoipa::path(
    post,
    path = paths::PRODUCTS_BATCH,
    operation_id = "productsByIds",
    request_body = ProductsByIds,
    responses((status = 200, description = "The products found and the ids missing", body = ProductBatch)),
)]
pub(super) async fn batch(
    State(store): State<Store>,
    Json(request): Json<ProductsByIds>,
) -> Result<Json<ProductBatch>, Problem> {
    request.validate()?;
    Ok(Json(store.products_by_ids(&request.ids).await?))
}
