//! Sample data: stock for every SKU of the sample catalog, loaded on first start, once, however
//! many instances start.
//!
//! Loading takes the store's write lock (`BEGIN IMMEDIATE` on SQLite, a transaction-scoped
//! advisory lock on PostgreSQL) and looks for the data set's name in `inventory_seeds`: the
//! first instance inserts every SKU and records the name in the same transaction; the others
//! wait for the lock, find the name and do nothing. Inserts skip SKUs that exist (`ON CONFLICT
//! DO NOTHING`), so stock set another way is kept.
//!
//! Each SKU this creates is announced (`StockChanged`) through the outbox in the loading
//! transaction; a SKU that was there already is not, and neither is anything when the data set
//! had been loaded.

use brigade_chassis::db::{Backend, Db, Query};
use brigade_chassis::events::Outbox;
use inventory_api::StockLevel;

use crate::store::{self, stock_changed};

/// What loading did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    /// This call loaded the data set; `skus` rows were new.
    Now { skus: u64 },
    /// The data set had been loaded before (perhaps by another instance a moment ago).
    Before,
}

/// The PostgreSQL advisory lock that serialises loaders. Each service has its own database, so a
/// fixed key cannot collide with another service's; it differs from the migrations' key anyway.
const LOAD_LOCK_KEY: i64 = 7_420_316;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("loading the sample stock failed: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("announcing the sample stock failed: {0}")]
    Store(#[from] store::Error),
    #[error("the store returned {stock} as the new stock of {sku}")]
    Corrupt { sku: String, stock: i64 },
}

/// Each sample SKU with its starting stock ([`sample_catalog::sample_stock`]).
pub fn sample_stock() -> Vec<(String, u32)> {
    sample_catalog::sample_catalog()
        .products
        .into_iter()
        .map(|p| {
            let stock = sample_catalog::sample_stock(&p.product.sku);
            (p.product.sku, stock)
        })
        .collect()
}

/// Loads stock for the sample catalog unless it is there already, announcing each SKU it creates
/// through `outbox`.
pub async fn ensure_sample_stock(db: &Db, outbox: &Outbox) -> Result<Loaded, Error> {
    // The common case, every start after the first: one read, and nothing generated.
    if is_loaded(db).await? {
        return Ok(Loaded::Before);
    }
    let loaded = load(db, outbox, &sample_stock()).await?;
    if let Loaded::Now { skus } = loaded {
        tracing::info!(skus, "loaded the sample stock");
    }
    Ok(loaded)
}

/// The data set's marker, there once it is loaded.
fn seed_marker() -> Query {
    Query::new("SELECT name FROM inventory_seeds WHERE name = ?").bind(sample_catalog::NAME)
}

async fn is_loaded(db: &Db) -> Result<bool, sqlx::Error> {
    let found: Vec<(String,)> = seed_marker().fetch_all(db).await?;
    Ok(!found.is_empty())
}

async fn load(db: &Db, outbox: &Outbox, stock: &[(String, u32)]) -> Result<Loaded, Error> {
    let now_ms = i64::try_from(brigade_chassis::time::unix_ms()).unwrap_or(i64::MAX);
    let mut tx = db.begin_write().await?;
    // Loaders queue here, so that the second finds the first's marker instead of inserting
    // nothing and calling it new.
    tx.serialize_on(LOAD_LOCK_KEY).await?;
    let found: Vec<(String,)> = seed_marker().fetch_all(&mut tx).await?;
    if !found.is_empty() {
        tx.rollback().await?;
        return Ok(Loaded::Before);
    }
    // One statement for every SKU: a round trip per row would make a first start on a remote
    // database take seconds.
    let skus: Vec<String> = stock.iter().map(|(sku, _)| sku.clone()).collect();
    let units: Vec<i64> = stock.iter().map(|(_, n)| i64::from(*n)).collect();
    let mut sql = Query::default();
    sql.push("INSERT INTO stock (sku, stock, held, committed, updated_at_ms) ");
    match db.backend() {
        Backend::Sqlite => sql
            .push("SELECT s.value, n.value, 0, 0, ")
            .push_bind(now_ms)
            .push(" FROM json_each(")
            .push_bind(skus)
            .push(") s JOIN json_each(")
            .push_bind(units)
            // `WHERE true` tells SQLite's parser that ON CONFLICT is the upsert clause, not
            // part of the join.
            .push(") n ON n.key = s.key WHERE true ON CONFLICT DO NOTHING"),
        Backend::Postgres => sql
            .push("SELECT t.sku, t.stock, 0, 0, ")
            .push_bind(now_ms)
            .push(" FROM UNNEST(")
            .push_bind(skus)
            .push("::text[], ")
            .push_bind(units)
            .push("::int8[]) AS t (sku, stock) ON CONFLICT DO NOTHING"),
    };
    // The SKUs this statement created, to announce them (and only them).
    sql.push(" RETURNING sku, stock");
    let created: Vec<(String, i64)> = sql.fetch_all(&mut tx).await?;
    let inserted = u64::try_from(created.len()).unwrap_or(u64::MAX);
    for (sku, units) in created {
        let units = u64::try_from(units).map_err(|_| Error::Corrupt {
            sku: sku.clone(),
            stock: units,
        })?;
        let level = StockLevel {
            sku,
            stock: units,
            held: 0,
            committed: 0,
            available: units,
        };
        stock_changed(&mut tx, outbox, level).await?;
    }
    let mut sql = Query::default();
    sql.push("INSERT INTO inventory_seeds (name, loaded_at_ms) VALUES (")
        .push_bind(sample_catalog::NAME)
        .push(", ")
        .push_bind(now_ms)
        .push(") ON CONFLICT DO NOTHING");
    sql.execute(&mut tx).await?;
    tx.commit().await?;
    if inserted > 0 {
        outbox.wake();
    }
    Ok(Loaded::Now { skus: inserted })
}
