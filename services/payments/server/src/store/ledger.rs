//! The ledger: appending (within a charge's transaction, [`append`]) and paging.

use brigade_chassis::db::{Query, Tx};
use payments_api::{Charge, LedgerFilter, LedgerKind, LedgerPage};
use uuid::Uuid;

use super::rows::{self, LedgerRow, LEDGER_COLUMNS};
use super::{Error, Store};

/// The lock appenders hold until commit ([`Tx::serialize_on`]).
const APPEND_LOCK: i64 = 7_420_401;

const APPEND: &str = "INSERT INTO ledger_entries \
     (id, charge_id, order_id, kind, amount_minor, currency, at_ms) \
     VALUES (?, ?, ?, ?, ?, ?, ?)";

/// Appends the movement of `charge`'s whole amount (captures and refunds are always in full),
/// of `kind`, at `at_ms`, within the write transaction `tx`; the entry's id.
pub(super) async fn append(
    tx: &mut Tx,
    charge: &Charge,
    kind: LedgerKind,
    at_ms: i64,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::new_v4();
    // Serialises appends until commit, so that positions are taken in commit order and a
    // reader paging with `after` never skips an entry that committed late.
    tx.serialize_on(APPEND_LOCK).await?;
    Query::new(APPEND)
        .bind(id)
        .bind(charge.id)
        .bind(charge.order_id)
        .bind(kind.as_str())
        .bind(charge.amount_minor)
        .bind(charge.currency.as_str())
        .bind(at_ms)
        .execute(tx)
        .await?;
    Ok(id)
}

impl Store {
    /// One page of the ledger, oldest first, and the cursor of the next page when there is one.
    pub async fn ledger(&self, filter: &LedgerFilter) -> Result<LedgerPage, Error> {
        let order = filter.order_id.map(|id| id.to_string());
        // PostgreSQL must know the type of a parameter that is only compared with NULL: the
        // CAST tells it (and changes nothing on SQLite).
        let text = format!(
            "SELECT {LEDGER_COLUMNS} FROM ledger_entries \
             WHERE seq > ? AND (CAST(? AS TEXT) IS NULL OR order_id = ?) ORDER BY seq LIMIT ?"
        );
        // One more than asked, to know whether another page follows.
        let fetch = i64::from(filter.limit) + 1;
        let rows: Vec<LedgerRow> = Query::new(&text)
            .bind(filter.after)
            .bind(order.clone())
            .bind(order)
            .bind(fetch)
            .fetch_all(&self.db)
            .await?;
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
