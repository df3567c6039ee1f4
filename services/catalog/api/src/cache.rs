//! Products by id, kept in memory once read: by the catalog itself (its store) and by callers
//! that opt in ([`crate::CatalogClient::keeping_products`]).
//!
//! A product is never changed nor deleted once written: the catalog only inserts (when loading
//! its sample data, skipping rows that exist), so an id names the same product for the life of
//! the catalog. Keeping a product once read therefore answers exactly what the catalog would,
//! without asking it again. Ids that name no product are not kept: the product may be loaded a
//! moment later by another instance.
//!
//! If products ever become editable, every keeper must be told by the edit (`ProductChanged`,
//! [`crate::events`]) before this is true again.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use crate::Product;
use uuid::Uuid;

/// The most products kept; past it, products are read again each time without being kept (the
/// sample catalog has 1,200, so in practice every product fits).
const MAX_PRODUCTS: usize = 20_000;

/// Products read so far, by id.
#[derive(Debug, Default)]
pub struct ProductCache {
    products: RwLock<HashMap<Uuid, Product>>,
}

impl ProductCache {
    /// The product with `id`, if it was read before.
    pub fn get(&self, id: &Uuid) -> Option<Product> {
        self.products
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    /// Keeps `products`, read from the store, while there is room.
    pub fn keep<'a>(&self, products: impl IntoIterator<Item = &'a Product>) {
        let mut kept = self
            .products
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for product in products {
            if kept.len() >= MAX_PRODUCTS {
                break;
            }
            kept.entry(product.id).or_insert_with(|| product.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Product `n`, at 1 euro.
    fn product(n: u128) -> Product {
        crate::testing::product(n, 100, "EUR")
    }

    #[test]
    fn a_product_read_once_is_served_from_memory() {
        let cache = ProductCache::default();
        assert_eq!(cache.get(&Uuid::from_u128(1)), None);
        cache.keep(&[product(1), product(2)]);
        assert_eq!(cache.get(&Uuid::from_u128(1)), Some(product(1)));
        assert_eq!(cache.get(&Uuid::from_u128(2)), Some(product(2)));
        assert_eq!(cache.get(&Uuid::from_u128(3)), None);
    }
}
