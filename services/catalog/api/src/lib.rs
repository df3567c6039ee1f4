//! The catalog service's contract: its wire types, the rules its inputs must follow, and a typed
//! client. Callers (the gateway, the cart, …) depend on this crate, never on the server, so that
//! a service can be rebuilt and redeployed without its callers knowing how it stores anything.
//!
//! The validation rules live here rather than in the server so that an edge (the gateway) can
//! refuse bad input with exactly the same words before it costs a hop.

#![forbid(unsafe_code)]

mod cache;
mod client;
pub mod events;
mod query;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod types;

pub use cache::ProductCache;
pub use client::CatalogClient;
pub use query::{
    ListProducts, ProductQuery, Sort, ValidationError, DEFAULT_PAGE_SIZE, MAX_BATCH_IDS,
    MAX_PAGE_SIZE, MAX_QUERY_CHARS, MAX_SLUG_CHARS,
};
pub use types::{
    Category, CategoryList, Money, Product, ProductAnswers, ProductBatch, ProductPage, ProductPath,
    ProductsByIds,
};

/// The catalog's routes, shared by the server's router and the client so that they cannot drift.
pub mod paths {
    /// `GET`: list and search products ([`crate::ListProducts`] as the query string).
    pub const PRODUCTS: &str = "/v1/products";
    /// `POST`: products by ids ([`crate::ProductsByIds`] as the body).
    pub const PRODUCTS_BATCH: &str = "/v1/products/batch";
    /// `GET`: every category with its product count.
    pub const CATEGORIES: &str = "/v1/categories";

    /// `GET`: one product.
    pub fn product(id: uuid::Uuid) -> String {
        format!("{PRODUCTS}/{id}")
    }

    brigade_chassis::uuid_parameter!(
        /// The `id` of `/v1/products/{id}`, read by the chassis' `PathUuid`.
        pub ProductId = "id", "a product id"
    );
}
