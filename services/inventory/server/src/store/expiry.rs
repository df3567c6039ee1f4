//! The expiry sweep's work: held reservations past their time give their units back (each SKU's
//! new counters announced).

use brigade_chassis::db::Query;
use inventory_api::ReservationStatus;

use super::reservations::{move_quantities, Movement};
use super::rows;
use super::{expect_changed, Error, Store};

/// Reservations expired per transaction: enough to catch up quickly, few enough that no
/// transaction holds the store's lock for long.
const BATCH: i64 = 100;

impl Store {
    /// Expires every reservation still held at `now_ms` whose time is up, returning its units;
    /// the number expired. Safe when several instances sweep at once: on PostgreSQL each takes
    /// the reservations no other sweep has locked; on SQLite they take turns.
    pub async fn expire_due(&self, now_ms: u64) -> Result<u64, Error> {
        let mut expired = 0;
        loop {
            let batch = self.expire_batch(now_ms).await?;
            expired += batch;
            if batch < BATCH.unsigned_abs() {
                return Ok(expired);
            }
        }
    }

    async fn expire_batch(&self, now_ms: u64) -> Result<u64, Error> {
        let mut tx = self.db.begin_write().await?;
        let mut sql = Query::default();
        sql.push("SELECT order_id FROM reservations WHERE status = ")
            .push_bind(ReservationStatus::Held.as_str())
            .push(" AND expires_at_ms <= ")
            .push_bind(rows::ms(now_ms))
            .push(" ORDER BY expires_at_ms, order_id LIMIT ")
            .push_bind(BATCH)
            .push_lock_skipping_locked();
        let due: Vec<(String,)> = sql.fetch_all(&mut tx).await?;
        if due.is_empty() {
            tx.rollback().await?;
            return Ok(0);
        }
        let order_ids: Vec<String> = due.into_iter().map(|(id,)| id).collect();

        // The units to return, summed per SKU so that each stock row is updated once, in SKU
        // order like every other transaction.
        let mut sql = Query::default();
        sql.push("SELECT sku, CAST(SUM(quantity) AS BIGINT) FROM reservation_lines WHERE ")
            .push_in_list("order_id", order_ids.clone(), "text")
            .push(" GROUP BY sku");
        let quantities: Vec<(String, i64)> = sql.fetch_all(&mut tx).await?;
        move_quantities(&mut tx, &self.outbox, &quantities, Movement::Return, now_ms).await?;

        let mut sql = Query::default();
        sql.push("UPDATE reservations SET status = ")
            .push_bind(ReservationStatus::Expired.as_str())
            .push(", updated_at_ms = ")
            .push_bind(rows::ms(now_ms))
            .push(" WHERE ")
            .push_in_list("order_id", order_ids.clone(), "text");
        let count = u64::try_from(order_ids.len()).unwrap_or(u64::MAX);
        expect_changed(sql.execute(&mut tx).await?, count, || {
            "reservations being expired".to_owned()
        })?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(expired = count, "expired reservations past their time");
        Ok(count)
    }
}
