//! The sample shop, as data: its categories, its products and how many units of each it holds.
//!
//! Every value is a pure function of constants, the same on every run and every machine, so that
//! services which load their part of it separately agree: the catalog loads the products, the
//! inventory loads stock for the same SKUs, and neither depends on the other's implementation.
//! Loading (SQL, locking) is each service's own business; this crate only says what there is.

#![forbid(unsafe_code)]

mod generate;
mod stock;
mod words;

use catalog_api::Product;

pub use generate::{product_id, sample_catalog, NAME, PRODUCT_ID_NAMESPACE};
pub use stock::{sample_stock, MAX_SAMPLE_STOCK, MIN_SAMPLE_STOCK};

/// A named data set to load into an empty or partly filled store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleCatalog {
    /// Recorded once loaded; a data set with the same name is never loaded again.
    pub name: String,
    pub categories: Vec<SampleCategory>,
    pub products: Vec<SampleProduct>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleCategory {
    pub slug: String,
    pub name: String,
    pub description: String,
    /// Display order.
    pub position: i64,
}

/// A product and when it was added (for sorting by newest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleProduct {
    pub product: Product,
    pub created_at_ms: i64,
}
