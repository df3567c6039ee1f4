//! Sample data: a realistic catalog loaded on first start, once, however many instances start.
//!
//! Two instances of the catalog usually start in the same moment against one store. Loading
//! takes the store's write lock (`BEGIN IMMEDIATE` on SQLite, a transaction-scoped advisory lock
//! on PostgreSQL), then looks for the data set's name in `catalog_seeds`: the first instance
//! inserts everything and records the name in the same transaction; the second waits for the
//! lock, finds the name and does nothing. Inserts also skip rows that exist (`ON CONFLICT DO
//! NOTHING`), so even a store that got some of the rows another way ends up complete, never
//! failing.
//!
//! Each product this creates is announced (`ProductChanged`, with the product) through the
//! outbox in the loading transaction; a product that was there already is not, and neither is
//! anything when the data set had been loaded.

use std::collections::HashSet;

use brigade_chassis::db::{Backend, Db, Query, Tx};
use brigade_chassis::events::Outbox;
use catalog_api::events::ProductChanged;
use catalog_api::Product;

// The data itself (names, SKUs, prices) is shared with the inventory, which stocks the same SKUs;
// only loading it into the catalog's tables is the catalog's own.
pub use sample_catalog::{
    product_id, sample_catalog, SampleCatalog, SampleCategory, SampleProduct, PRODUCT_ID_NAMESPACE,
};

/// The PostgreSQL advisory lock that serialises loaders. Each service has its own database, so a
/// fixed key cannot collide with another service's; it differs from the migrations' key anyway.
const LOAD_LOCK_KEY: i64 = 7_420_315;

/// What loading did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    /// This call loaded the data set; `products` rows were new.
    Now { products: u64 },
    /// The data set had been loaded before (perhaps by another instance a moment ago).
    Before,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("loading the sample catalog failed: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("cannot encode the tags of product {sku}: {source}")]
    Tags {
        sku: String,
        source: serde_json::Error,
    },
    #[error("announcing a loaded product failed: {0}")]
    Outbox(#[from] brigade_chassis::events::Error),
    #[error("the store returned `{0}` as the id of a product it created")]
    Corrupt(String),
}

/// Loads the built-in sample catalog unless it is there already, announcing each product it
/// creates through `outbox`.
pub async fn ensure_sample_catalog(db: &Db, outbox: &Outbox) -> Result<Loaded, Error> {
    // The common case, every start after the first: one read, and nothing generated.
    if is_loaded(db, ::sample_catalog::NAME).await? {
        return Ok(Loaded::Before);
    }
    let loaded = load(db, outbox, &sample_catalog()).await?;
    if let Loaded::Now { products } = loaded {
        tracing::info!(products, "loaded the sample catalog");
    }
    Ok(loaded)
}

/// Loads `catalog` unless a data set of its name is there already, announcing each product it
/// creates through `outbox` in the same transaction. Safe to call concurrently, from any number
/// of processes.
pub async fn load(db: &Db, outbox: &Outbox, catalog: &SampleCatalog) -> Result<Loaded, Error> {
    let rows = Rows::encode(catalog)?;
    let loaded_at_ms = i64::try_from(brigade_chassis::time::unix_ms()).unwrap_or(i64::MAX);
    // Dropping the transaction on an early return or error rolls it back.
    let mut tx = db.begin_write().await?;
    // Loaders queue here, so that the second finds the first's marker instead of inserting
    // nothing and calling it new.
    tx.serialize_on(LOAD_LOCK_KEY).await?;
    let marker: Option<(i64,)> = seed_marker(&catalog.name).fetch_optional(&mut tx).await?;
    if marker.is_some() {
        return Ok(Loaded::Before);
    }
    let inserted = match tx.backend() {
        Backend::Sqlite => insert_each(&mut tx, outbox, &rows).await?,
        Backend::Postgres => insert_all_at_once(&mut tx, outbox, &rows).await?,
    };
    Query::new(
        "INSERT INTO catalog_seeds (name, loaded_at_ms) VALUES (?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(catalog.name.as_str())
    .bind(loaded_at_ms)
    .execute(&mut tx)
    .await?;
    tx.commit().await?;
    if inserted > 0 {
        outbox.wake();
    }
    Ok(Loaded::Now { products: inserted })
}

/// Announces `product`, just created in the transaction `tx`.
async fn announce(tx: &mut Tx, outbox: &Outbox, product: &Product) -> Result<(), Error> {
    let event = ProductChanged {
        product: product.clone(),
    };
    outbox.append(tx.conn(), &event).await?;
    Ok(())
}

/// The data set's marker, there once it is loaded.
fn seed_marker(name: &str) -> Query {
    Query::new("SELECT CAST(1 AS BIGINT) FROM catalog_seeds WHERE name = ?").bind(name)
}

async fn is_loaded(db: &Db, name: &str) -> Result<bool, sqlx::Error> {
    let found: Option<(i64,)> = seed_marker(name).fetch_optional(db).await?;
    Ok(found.is_some())
}

/// The data set in columns, as the statements bind it.
struct Rows<'a> {
    categories: &'a [SampleCategory],
    products: Vec<ProductColumns<'a>>,
}

struct ProductColumns<'a> {
    product: &'a Product,
    tags_json: String,
    created_at_ms: i64,
}

impl<'a> Rows<'a> {
    fn encode(catalog: &'a SampleCatalog) -> Result<Rows<'a>, Error> {
        let products = catalog
            .products
            .iter()
            .map(|sample| {
                let tags_json =
                    serde_json::to_string(&sample.product.tags).map_err(|source| Error::Tags {
                        sku: sample.product.sku.clone(),
                        source,
                    })?;
                Ok(ProductColumns {
                    product: &sample.product,
                    tags_json,
                    created_at_ms: sample.created_at_ms,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Rows {
            categories: &catalog.categories,
            products,
        })
    }
}

/// Inserts the rows one statement each (the statement prepared once): SQLite is in-process, so
/// a round trip is cheap. The number of products created.
async fn insert_each(tx: &mut Tx, outbox: &Outbox, rows: &Rows<'_>) -> Result<u64, Error> {
    for c in rows.categories {
        Query::new(
            "INSERT INTO categories (slug, name, description, position) VALUES (?, ?, ?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&c.slug)
        .bind(&c.name)
        .bind(&c.description)
        .bind(c.position)
        .execute(&mut *tx)
        .await?;
    }
    let mut inserted = 0;
    for row in &rows.products {
        let p = row.product;
        let created = Query::new(
            "INSERT INTO products (id, sku, name, description, category, price_minor, currency, \
             image_url, tags, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind(p.id)
        .bind(&p.sku)
        .bind(&p.name)
        .bind(&p.description)
        .bind(&p.category)
        .bind(p.price.amount_minor)
        .bind(&p.price.currency)
        .bind(&p.image_url)
        .bind(&row.tags_json)
        .bind(row.created_at_ms)
        .execute(&mut *tx)
        .await?;
        if created == 1 {
            announce(tx, outbox, p).await?;
        }
        inserted += created;
    }
    Ok(inserted)
}

/// Inserts every row in one statement per table (PostgreSQL's `UNNEST` of one array per
/// column): a round trip per row would make a first start on a remote database take seconds.
/// The number of products created.
async fn insert_all_at_once(tx: &mut Tx, outbox: &Outbox, rows: &Rows<'_>) -> Result<u64, Error> {
    let categories = rows.categories;
    let text = |f: fn(&SampleCategory) -> &str| -> Vec<String> {
        categories.iter().map(|c| f(c).to_owned()).collect()
    };
    Query::new(
        "INSERT INTO categories (slug, name, description, position) \
         SELECT * FROM UNNEST(?::text[], ?::text[], ?::text[], ?::int8[]) \
         ON CONFLICT DO NOTHING",
    )
    .bind(text(|c| c.slug.as_str()))
    .bind(text(|c| c.name.as_str()))
    .bind(text(|c| c.description.as_str()))
    .bind(categories.iter().map(|c| c.position).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    let products = &rows.products;
    let column = |f: fn(&ProductColumns<'_>) -> String| products.iter().map(f).collect::<Vec<_>>();
    // The ids of the rows this statement created, to announce those products (and only them).
    let created: Vec<(String,)> = Query::new(
        "INSERT INTO products (id, sku, name, description, category, price_minor, currency, \
         image_url, tags, created_at_ms) \
         SELECT * FROM UNNEST(?::uuid[], ?::text[], ?::text[], ?::text[], ?::text[], \
         ?::int8[], ?::text[], ?::text[], ?::text[], ?::int8[]) \
         ON CONFLICT DO NOTHING RETURNING id::text",
    )
    .bind(column(|r| r.product.id.to_string()))
    .bind(column(|r| r.product.sku.clone()))
    .bind(column(|r| r.product.name.clone()))
    .bind(column(|r| r.product.description.clone()))
    .bind(column(|r| r.product.category.clone()))
    .bind(
        products
            .iter()
            .map(|r| r.product.price.amount_minor)
            .collect::<Vec<_>>(),
    )
    .bind(column(|r| r.product.price.currency.clone()))
    .bind(column(|r| r.product.image_url.clone()))
    .bind(column(|r| r.tags_json.clone()))
    .bind(products.iter().map(|r| r.created_at_ms).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await?;
    let created: HashSet<uuid::Uuid> = created
        .into_iter()
        .map(|(id,)| uuid::Uuid::parse_str(&id).map_err(|_| Error::Corrupt(id)))
        .collect::<Result<_, _>>()?;
    // In the data set's order, as on SQLite.
    for row in products.iter().filter(|r| created.contains(&r.product.id)) {
        announce(tx, outbox, row.product).await?;
    }
    Ok(u64::try_from(created.len()).unwrap_or(u64::MAX))
}
