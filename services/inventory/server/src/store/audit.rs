//! The audit: every SKU whose counters disagree with its reservations, or break the promise.

use inventory_api::{Audit, Violation};

use brigade_chassis::db::Query;

use super::{Error, Store};

/// `sku, stock, held, committed, held_by_reservations, committed_by_reservations`.
type AuditRow = (String, i64, i64, i64, i64, i64);

/// One statement, so that it reads one consistent moment on both backends.
const AUDIT: &str = "\
WITH sums AS (
    SELECT l.sku,
           CAST(SUM(CASE WHEN r.status = 'held' THEN l.quantity ELSE 0 END) AS BIGINT) AS held,
           CAST(SUM(CASE WHEN r.status = 'committed' THEN l.quantity ELSE 0 END) AS BIGINT) AS committed
    FROM reservation_lines l JOIN reservations r ON r.order_id = l.order_id
    GROUP BY l.sku
)
SELECT s.sku, s.stock, s.held, s.committed,
       COALESCE(m.held, 0), COALESCE(m.committed, 0)
FROM stock s LEFT JOIN sums m ON m.sku = s.sku
WHERE s.held <> COALESCE(m.held, 0)
   OR s.committed <> COALESCE(m.committed, 0)
   OR s.held < 0 OR s.committed < 0
   OR s.stock - s.held - s.committed < 0
ORDER BY s.sku";

impl Store {
    /// The SKUs that break a promise; none, unless something is badly wrong.
    pub async fn audit(&self) -> Result<Audit, Error> {
        let rows: Vec<AuditRow> = Query::new(AUDIT).fetch_all(&self.db).await?;
        Ok(Audit {
            violations: rows.into_iter().map(violation).collect(),
        })
    }
}

fn violation(row: AuditRow) -> Violation {
    let (sku, stock, held, committed, held_by_reservations, committed_by_reservations) = row;
    let available = stock - held - committed;
    let mut broken = Vec::new();
    if held != held_by_reservations {
        broken.push(format!(
            "held is {held} but its held reservations hold {held_by_reservations}"
        ));
    }
    if committed != committed_by_reservations {
        broken.push(format!(
            "committed is {committed} but its committed reservations sold {committed_by_reservations}"
        ));
    }
    if held < 0 || committed < 0 {
        broken.push("a counter is negative".to_owned());
    }
    if available < 0 {
        broken.push(format!(
            "oversold: held {held} + committed {committed} exceed stock {stock}"
        ));
    }
    Violation {
        sku,
        stock,
        held,
        committed,
        available,
        held_by_reservations,
        committed_by_reservations,
        detail: broken.join("; "),
    }
}
