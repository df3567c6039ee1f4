//! The catalog's store: reading products and categories on SQLite or PostgreSQL.
//!
//! Writing happens only when sample data is loaded ([`crate::seed`]); every request reads.
//! Products by id are served from memory once read ([`ProductCache`]): a product is never
//! changed.

mod listing;
mod rows;
mod search;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use brigade_chassis::db::{Db, Query};
use catalog_api::{Category, Product, ProductBatch, ProductCache, ProductPage, ProductQuery};
use uuid::Uuid;

use listing::Listing;
use rows::{ListedRow, ProductRow};
use search::Terms;

/// A failure of the store itself: the caller's input was fine.
pub type Error = brigade_chassis::db::StoreError;

/// Why a listing could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The category filter names no category; `known` are the ones that exist.
    #[error("unknown category `{slug}`")]
    UnknownCategory { slug: String, known: Vec<String> },
    #[error(transparent)]
    Store(#[from] Error),
}

/// Reads the catalog. Cheap to clone: a pool handle and the shared product cache.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    products: Arc<ProductCache>,
}

impl Store {
    /// `db` must have [`crate::MIGRATIONS`] applied.
    pub fn new(db: Db) -> Store {
        Store {
            db,
            products: Arc::default(),
        }
    }

    /// One page of the products matching `query`, with the number of matches on all pages.
    pub async fn list_products(&self, query: &ProductQuery) -> Result<ProductPage, ListError> {
        let terms = query.text().map(Terms::parse);
        let (items, total) = match &terms {
            // Text of punctuation only has nothing to search for, so nothing matches it.
            Some(terms) if terms.is_empty() => (Vec::new(), 0),
            terms => self.fetch_page(query, terms.as_ref()).await?,
        };
        // A filter that matches nothing may be a misspelt category: say so, rather than answer
        // an empty page that looks like a real result. Only then is the question worth a query.
        if total == 0 {
            if let Some(slug) = query.category() {
                self.check_category(slug).await?;
            }
        }
        Ok(ProductPage {
            items,
            page: query.page(),
            page_size: query.page_size(),
            total,
        })
    }

    async fn fetch_page(
        &self,
        query: &ProductQuery,
        terms: Option<&Terms>,
    ) -> Result<(Vec<Product>, u64), Error> {
        let backend = self.db.backend();
        let listing = Listing { query, terms };
        let rows: Vec<ListedRow> = listing.page(backend).fetch_all(&self.db).await?;
        let total = match rows.first() {
            Some(row) => row.9,
            // Past the last page no row carries the total, so count.
            None if query.page() > 1 => {
                let counted: Vec<(i64,)> = listing.count(backend).fetch_all(&self.db).await?;
                counted.first().map_or(0, |c| c.0)
            }
            None => 0,
        };
        let items = rows
            .into_iter()
            .map(|row| rows::product(rows::listed(row).0))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((items, u64::try_from(total).unwrap_or(0)))
    }

    async fn check_category(&self, slug: &str) -> Result<(), ListError> {
        let rows: Vec<(String,)> =
            Query::new("SELECT slug FROM categories ORDER BY position, slug")
                .fetch_all(&self.db)
                .await
                .map_err(Error::from)?;
        let known: Vec<String> = rows.into_iter().map(|(slug,)| slug).collect();
        if known.iter().any(|k| k == slug) {
            Ok(())
        } else {
            Err(ListError::UnknownCategory {
                slug: slug.to_owned(),
                known,
            })
        }
    }

    /// The product with `id`, if there is one.
    pub async fn product(&self, id: Uuid) -> Result<Option<Product>, Error> {
        if let Some(product) = self.products.get(&id) {
            return Ok(Some(product));
        }
        let mut sql = Query::default();
        sql.push("SELECT ")
            .push(rows::COLUMNS)
            .push(" FROM products p WHERE p.id = ")
            .push_uuid(id);
        let rows: Vec<ProductRow> = sql.fetch_all(&self.db).await?;
        let product = rows.into_iter().next().map(rows::product).transpose()?;
        self.products.keep(&product);
        Ok(product)
    }

    /// The products with `ids`, in the order asked and each once, and the ids that name none.
    pub async fn products_by_ids(&self, ids: &[Uuid]) -> Result<ProductBatch, Error> {
        let mut seen = HashSet::new();
        let wanted: Vec<Uuid> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
        if wanted.is_empty() {
            return Ok(ProductBatch {
                items: Vec::new(),
                missing: Vec::new(),
            });
        }
        let mut found: HashMap<Uuid, Product> = wanted
            .iter()
            .filter_map(|id| self.products.get(id).map(|p| (*id, p)))
            .collect();
        let unknown: Vec<String> = wanted
            .iter()
            .filter(|id| !found.contains_key(id))
            .map(Uuid::to_string)
            .collect();
        if !unknown.is_empty() {
            let mut sql = Query::default();
            sql.push("SELECT ")
                .push(rows::COLUMNS)
                .push(" FROM products p WHERE ")
                .push_in_list("p.id", unknown, "uuid");
            let rows: Vec<ProductRow> = sql.fetch_all(&self.db).await?;
            let read = rows
                .into_iter()
                .map(rows::product)
                .collect::<Result<Vec<_>, _>>()?;
            self.products.keep(&read);
            found.extend(read.into_iter().map(|p| (p.id, p)));
        }
        let mut batch = ProductBatch {
            items: Vec::with_capacity(found.len()),
            missing: Vec::new(),
        };
        for id in wanted {
            match found.remove(&id) {
                Some(product) => batch.items.push(product),
                None => batch.missing.push(id),
            }
        }
        Ok(batch)
    }

    /// Every category in display order, with its number of products.
    pub async fn categories(&self) -> Result<Vec<Category>, Error> {
        let sql = Query::new(
            "SELECT c.slug, c.name, c.description, COUNT(p.id) \
             FROM categories c LEFT JOIN products p ON p.category = c.slug \
             GROUP BY c.slug, c.name, c.description, c.position \
             ORDER BY c.position, c.slug",
        );
        let rows: Vec<(String, String, String, i64)> = sql.fetch_all(&self.db).await?;
        Ok(rows
            .into_iter()
            .map(|(slug, name, description, count)| Category {
                slug,
                name,
                description,
                product_count: u64::try_from(count).unwrap_or(0),
            })
            .collect())
    }
}
