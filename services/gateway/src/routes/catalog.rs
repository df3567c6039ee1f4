//! `/api/v1/products` and `/api/v1/categories`: browsing the catalog.

use axum::extract::State;
use brigade_chassis::extract::{Json, NoParameters, PathUuid, Query};
use brigade_chassis::Problem;
use catalog_api::{
    paths, CategoryList, ListProducts, Product, ProductAnswers, ProductPage, ProductPath,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Gateway;

pub fn router() -> OpenApiRouter<Gateway> {
    OpenApiRouter::new()
        .routes(routes!(list_products))
        .routes(routes!(get_product))
        .routes(routes!(list_categories))
}

/// List and search products.
///
/// One page of products matching every filter given. Unknown query parameters are refused.
#[utoipa::path(
    get,
    path = "/products",
    operation_id = "listProducts",
    params(ListProducts),
    responses(
        (status = 200, description = "One page of products", body = ProductPage),
        (status = 400, description = "invalid-parameter (`parameter` names it); an unknown \
            category's problem lists the known ones in `categories`; invalid-query: an unknown \
            parameter", body = Problem),
    ),
)]
async fn list_products(
    State(gateway): State<Gateway>,
    Query(query): Query<ListProducts>,
) -> Result<Json<ProductPage>, Problem> {
    // Refuse bad input here, before it costs a hop; the catalog checks again.
    query.validate()?;
    Ok(Json(gateway.catalog.list_products(&query).await?))
}

/// One product.
#[utoipa::path(
    get,
    path = "/products/{id}",
    operation_id = "getProduct",
    params(ProductPath),
    responses(ProductAnswers)
)]
async fn get_product(
    State(gateway): State<Gateway>,
    PathUuid(id, _): PathUuid<paths::ProductId>,
) -> Result<Json<Product>, Problem> {
    Ok(Json(gateway.catalog.get_product(id).await?))
}

/// Every category in display order, with its product count.
#[utoipa::path(
    get,
    path = "/categories",
    operation_id = "listCategories",
    responses((status = 200, description = "Every category", body = CategoryList)),
)]
async fn list_categories(
    State(gateway): State<Gateway>,
    _: Query<NoParameters>,
) -> Result<Json<CategoryList>, Problem> {
    Ok(Json(gateway.catalog.categories().await?))
}
