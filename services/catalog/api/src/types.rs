//! What goes over the wire. Field names are the JSON names; changing one breaks callers.

use brigade_chassis::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An amount of money in the currency's minor unit (cents), so that no price is ever a float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Money {
    pub amount_minor: i64,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
}

/// One product as the catalog sells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Product {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    pub description: String,
    /// The slug of the product's category.
    pub category: String,
    pub price: Money,
    pub image_url: String,
    pub tags: Vec<String>,
}

/// A category and how many products it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Category {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub product_count: u64,
}

/// `GET /v1/categories`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CategoryList {
    pub items: Vec<Category>,
}

/// One page of a product listing. `page` counts from 1; `total` is the number of products that
/// match the filters on all pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProductPage {
    pub items: Vec<Product>,
    pub page: u32,
    pub page_size: u32,
    pub total: u64,
}

/// `POST /v1/products/batch`: at most [`crate::MAX_BATCH_IDS`] ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductsByIds {
    #[schema(max_items = 100)]
    pub ids: Vec<Uuid>,
}

/// The answer to [`ProductsByIds`]: the products found, in the order they were asked for (each
/// once), and the ids that name no product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProductBatch {
    pub items: Vec<Product>,
    pub missing: Vec<Uuid>,
}

/// The path of one product (`GET /v1/products/{id}`), which the catalog and the gateway in front
/// of it document alike.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProductPath {
    /// A product id.
    pub id: Uuid,
}

/// The answers of `GET /v1/products/{id}`, which the catalog and the gateway in front of it
/// document alike.
#[derive(utoipa::IntoResponses)]
pub enum ProductAnswers {
    #[response(status = 200, description = "The product")]
    Found(Product),
    #[response(
        status = 404,
        description = "not-found: there is no product with this id"
    )]
    NotFound(Problem),
}
