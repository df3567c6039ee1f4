//! `/api/v1/products` and `/api/v1/categories`: browsing the catalog.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use brigade_chassis::extract::{Json, NoParameters, Path, Query};
use brigade_chassis::Problem;
use catalog_api::{CategoryList, ListProducts, Product, ProductPage};
use uuid::Uuid;

use crate::Gateway;

pub fn router() -> Router<Gateway> {
    Router::new()
        .route("/products", get(list_products))
        .route("/products/{id}", get(get_product))
        .route("/categories", get(list_categories))
}

async fn list_products(
    State(gateway): State<Gateway>,
    Query(query): Query<ListProducts>,
) -> Result<Json<ProductPage>, Problem> {
    // Refuse bad input here, before it costs a hop; the catalog checks again.
    query.validate().map_err(Problem::from)?;
    let page = gateway
        .catalog
        .list_products(&query)
        .await
        .map_err(|e| e.to_problem())?;
    Ok(Json(page))
}

async fn get_product(
    State(gateway): State<Gateway>,
    Path(id): Path<String>,
) -> Result<Json<Product>, Problem> {
    let id = Uuid::parse_str(&id).map_err(|_| {
        Problem::invalid_parameter("id", format!("`{id}` is not a product id: expected a UUID"))
    })?;
    let product = gateway
        .catalog
        .get_product(id)
        .await
        .map_err(|e| e.to_problem())?;
    Ok(Json(product))
}

async fn list_categories(
    State(gateway): State<Gateway>,
    _: Query<NoParameters>,
) -> Result<Json<CategoryList>, Problem> {
    let categories = gateway
        .catalog
        .categories()
        .await
        .map_err(|e| e.to_problem())?;
    Ok(Json(categories))
}
