//! The ledger: appending (within a charge's transaction, see `append_ledger!`) and paging.

use brigade_chassis::db::{Backend, Db};
use payments_api::{LedgerFilter, LedgerKind, LedgerPage};
use uuid::Uuid;

use super::rows::{self, LedgerRow, LEDGER_COLUMNS};
use super::{sql, Error, Store};

/// One movement of money, about to be appended.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub charge_id: Uuid,
    pub order_id: Uuid,
    pub kind: LedgerKind,
    pub amount_minor: i64,
    pub currency: String,
    pub at_ms: i64,
}

/// The advisory lock appenders hold until commit on PostgreSQL (the key is this service's own:
/// each service has its own database).
pub(super) const APPEND_LOCK: &str = "SELECT pg_advisory_xact_lock(7420401)";

pub(super) const APPEND: &str = "INSERT INTO ledger_entries \
     (id, charge_id, order_id, kind, amount_minor, currency, at_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

impl Store {
    /// One page of the ledger, oldest first, and the cursor of the next page when there is one.
    pub async fn ledger(&self, filter: &LedgerFilter) -> Result<LedgerPage, Error> {
        let order = filter.order_id.map(|id| id.to_string());
        let text = format!(
            "SELECT {LEDGER_COLUMNS} FROM ledger_entries \
             WHERE seq > $1 AND ($2 IS NULL OR order_id = $2) ORDER BY seq LIMIT $3"
        );
        // One more than asked, to know whether another page follows.
        let fetch = i64::from(filter.limit) + 1;
        let rows: Vec<LedgerRow> = match &self.db {
            Db::Sqlite(pool) => {
                sqlx::query_as(&sql(Backend::Sqlite, &text))
                    .bind(filter.after)
                    .bind(order.as_deref())
                    .bind(fetch)
                    .fetch_all(pool)
                    .await?
            }
            Db::Postgres(pool) => {
                // PostgreSQL must know the type of a parameter that is only compared with NULL.
                let text = text.replace("$2 IS NULL", "$2::text IS NULL");
                sqlx::query_as(&text)
                    .bind(filter.after)
                    .bind(order.as_deref())
                    .bind(fetch)
                    .fetch_all(pool)
                    .await?
            }
        };
        let more = rows.len() > filter.limit as usize;
        let mut items = Vec::with_capacity(rows.len());
        let mut last = None;
        for row in rows.into_iter().take(filter.limit as usize) {
            let (seq, entry) = rows::ledger_entry(row)?;
            last = Some(seq);
            items.push(entry);
        }
        Ok(LedgerPage {
            items,
            next: last.filter(|_| more).map(|seq| seq.to_string()),
        })
    }
}
