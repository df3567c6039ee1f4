//! The typed client other services use to call the catalog, through the chassis client (so every
//! call gets discovery, balancing, deadlines and tracing).

use std::sync::Arc;

use brigade_chassis::client::{Error as ClientError, ServiceClient};
use uuid::Uuid;

use crate::cache::ProductCache;
use crate::paths;
use crate::query::ListProducts;
use crate::types::{CategoryList, Product, ProductBatch, ProductPage, ProductsByIds};

/// Calls the catalog service. Cheap to clone (clones share what is kept).
#[derive(Debug, Clone)]
pub struct CatalogClient {
    inner: ServiceClient,
    /// Products by id read so far, when the caller opted in ([`Self::keeping_products`]).
    kept: Option<Arc<ProductCache>>,
}

impl CatalogClient {
    /// `inner` is a chassis client bound to the catalog service (`ctx.client("catalog")`).
    pub fn new(inner: ServiceClient) -> CatalogClient {
        CatalogClient { inner, kept: None }
    }

    /// This client, keeping every product [`Self::get_product`] reads and answering it again
    /// from memory: a product never changes once it exists ([`ProductCache`]), so a caller
    /// that shows products by id (a product page) saves a hop per page, and keeps showing a
    /// product it has read while the catalog is away. Listings and batches are always asked.
    pub fn keeping_products(self) -> CatalogClient {
        CatalogClient {
            kept: Some(Arc::default()),
            ..self
        }
    }

    /// One page of products. The catalog answers 400 when `query` breaks a rule: call
    /// [`ListProducts::validate`] first to refuse such input without the hop.
    pub async fn list_products(&self, query: &ListProducts) -> Result<ProductPage, ClientError> {
        let path = self.inner.path_and_query(paths::PRODUCTS, query)?;
        self.inner.get_json(&path).await
    }

    /// One product; an unknown id is an error for which `is_not_found()` is true.
    pub async fn get_product(&self, id: Uuid) -> Result<Product, ClientError> {
        let Some(kept) = &self.kept else {
            return self.inner.get_json(&paths::product(id)).await;
        };
        if let Some(product) = kept.get(&id) {
            return Ok(product);
        }
        let product: Product = self.inner.get_json(&paths::product(id)).await?;
        kept.keep(std::slice::from_ref(&product));
        Ok(product)
    }

    /// Several products in one call, in the order asked (at most [`crate::MAX_BATCH_IDS`]), with
    /// the ids that name no product listed as missing.
    pub async fn products_by_ids(&self, ids: &[Uuid]) -> Result<ProductBatch, ClientError> {
        let body = ProductsByIds { ids: ids.to_vec() };
        self.inner.post_json(paths::PRODUCTS_BATCH, &body).await
    }

    /// Every category with its product count.
    pub async fn categories(&self) -> Result<CategoryList, ClientError> {
        self.inner.get_json(paths::CATEGORIES).await
    }
}
