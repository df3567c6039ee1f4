//! Stock levels: reading them, and setting a SKU's total stock (announced when it changes).

use std::collections::HashMap;

use brigade_chassis::db::Query;
use inventory_api::{StockLevel, StockLevels};

use super::events::stock_changed;
use super::rows::{self, LevelRow, LEVEL_COLUMNS};
use super::{Error, SetStockError, StockSet, Store, Tx};

impl Store {
    /// The levels of `skus`, in the order asked (each once), and the SKUs not stocked.
    pub async fn levels(&self, skus: &[String]) -> Result<StockLevels, Error> {
        let mut sql = Query::default();
        sql.push("SELECT ")
            .push(LEVEL_COLUMNS)
            .push(" FROM stock s WHERE ")
            .push_in_list("s.sku", skus.to_vec(), "text");
        let rows: Vec<LevelRow> = sql.fetch_all(&self.db).await?;
        let mut found: HashMap<String, StockLevel> = rows
            .into_iter()
            .map(|row| rows::level(row).map(|level| (level.sku.clone(), level)))
            .collect::<Result<_, _>>()?;
        let mut levels = StockLevels {
            items: Vec::with_capacity(found.len()),
            missing: Vec::new(),
        };
        for sku in skus {
            match found.remove(sku) {
                Some(level) => levels.items.push(level),
                None if !levels.missing.contains(sku) => levels.missing.push(sku.clone()),
                None => {}
            }
        }
        Ok(levels)
    }

    /// The level of `sku`, if it is stocked.
    pub async fn level(&self, sku: &str) -> Result<Option<StockLevel>, Error> {
        let mut sql = Query::default();
        sql.push("SELECT ")
            .push(LEVEL_COLUMNS)
            .push(" FROM stock s WHERE s.sku = ")
            .push_bind(sku);
        let rows: Vec<LevelRow> = sql.fetch_all(&self.db).await?;
        rows.into_iter().next().map(rows::level).transpose()
    }

    /// Sets the total stock of `sku`, creating the SKU when it is new, and announces the SKU's
    /// new counters; setting the stock it has changes and announces nothing. Refused below the
    /// units held and sold: stock cannot shrink under a promise.
    pub async fn set_stock(
        &self,
        sku: &str,
        stock: u64,
        now_ms: u64,
    ) -> Result<(StockLevel, StockSet), SetStockError> {
        let wanted = i64::try_from(stock).unwrap_or(i64::MAX);
        // Two attempts: on PostgreSQL another request may create the SKU between our look and
        // our insert; the second look then finds it.
        for _ in 0..2 {
            let mut tx = self.db.begin_write().await.map_err(Error::from)?;
            let current = locked_levels(&mut tx, &[sku.to_owned()]).await?;
            let (level, outcome) = match current.into_iter().next() {
                Some(level) if level.held + level.committed > stock => {
                    tx.rollback().await.map_err(Error::from)?;
                    return Err(SetStockError::BelowReserved {
                        wanted: stock,
                        held: level.held,
                        committed: level.committed,
                    });
                }
                Some(level) if level.stock == stock => {
                    tx.rollback().await.map_err(Error::from)?;
                    return Ok((level, StockSet::Updated));
                }
                Some(level) => {
                    let mut sql = Query::default();
                    sql.push("UPDATE stock SET stock = ")
                        .push_bind(wanted)
                        .push(", updated_at_ms = ")
                        .push_bind(rows::ms(now_ms))
                        .push(" WHERE sku = ")
                        .push_bind(sku);
                    sql.execute(&mut tx).await.map_err(Error::from)?;
                    let available = stock - level.held - level.committed;
                    let level = StockLevel {
                        stock,
                        available,
                        ..level
                    };
                    (level, StockSet::Updated)
                }
                None => {
                    let mut sql = Query::default();
                    sql.push(
                        "INSERT INTO stock (sku, stock, held, committed, updated_at_ms) VALUES (",
                    )
                    .push_bind(sku)
                    .push(", ")
                    .push_bind(wanted)
                    .push(", 0, 0, ")
                    .push_bind(rows::ms(now_ms))
                    .push(") ON CONFLICT DO NOTHING");
                    if sql.execute(&mut tx).await.map_err(Error::from)? == 0 {
                        tx.rollback().await.map_err(Error::from)?;
                        continue;
                    }
                    let level = StockLevel {
                        sku: sku.to_owned(),
                        stock,
                        held: 0,
                        committed: 0,
                        available: stock,
                    };
                    (level, StockSet::Created)
                }
            };
            stock_changed(&mut tx, &self.outbox, level.clone()).await?;
            tx.commit().await.map_err(Error::from)?;
            self.outbox.wake();
            return Ok((level, outcome));
        }
        Err(SetStockError::Store(Error::corrupt(
            format!("stock of {sku}"),
            "the SKU was neither found nor insertable",
        )))
    }
}

/// The levels of `skus` in SKU order, locked until `tx` ends (PostgreSQL row locks taken in that
/// order; SQLite's write lock is held already). SKUs not stocked are left out.
pub(super) async fn locked_levels(tx: &mut Tx, skus: &[String]) -> Result<Vec<StockLevel>, Error> {
    let mut sql = Query::default();
    sql.push("SELECT ")
        .push(LEVEL_COLUMNS)
        .push(" FROM stock s WHERE ")
        .push_in_list("s.sku", skus.to_vec(), "text")
        .push(" ORDER BY s.sku")
        .push_lock_rows_of("s");
    let rows: Vec<LevelRow> = sql.fetch_all(&mut *tx).await?;
    rows.into_iter().map(rows::level).collect()
}
