//! The audit: every charge checked against the ledger, in one snapshot of the store.

use std::collections::BTreeMap;

use brigade_chassis::db::Query;
use payments_api::{Audit, Violation, ViolationKind};

use super::rows;
use super::{Error, Store};

/// The most violations of each kind one audit lists: enough to act on, bounded in size.
const MAX_LISTED: i64 = 1000;

/// Orders with more than one captured, unrefunded charge (the schema's unique index forbids it;
/// the audit checks the data, not the schema).
const MULTIPLE_CAPTURES: &str = "SELECT order_id, COUNT(*) FROM charges \
     WHERE status = 'captured' GROUP BY order_id HAVING COUNT(*) > 1 \
     ORDER BY order_id LIMIT ?";

/// Charges whose ledger entries do not match their status: a captured charge has exactly one
/// capture of its amount; a refunded one also exactly one refund of its amount; a pending or
/// declined one none; every entry is in the charge's currency and for its order.
const LEDGER_MISMATCHES: &str = "SELECT id, order_id, status, amount_minor, \
     refunded_amount_minor, captures, captured_minor, refunds, refunded_minor, strays \
     FROM (SELECT c.id, c.order_id, c.status, c.amount_minor, c.refunded_amount_minor, \
        CAST(COALESCE(SUM(CASE WHEN l.kind = 'capture' THEN 1 ELSE 0 END), 0) AS BIGINT) AS captures, \
        CAST(COALESCE(SUM(CASE WHEN l.kind = 'capture' THEN l.amount_minor ELSE 0 END), 0) AS BIGINT) AS captured_minor, \
        CAST(COALESCE(SUM(CASE WHEN l.kind = 'refund' THEN 1 ELSE 0 END), 0) AS BIGINT) AS refunds, \
        CAST(COALESCE(SUM(CASE WHEN l.kind = 'refund' THEN l.amount_minor ELSE 0 END), 0) AS BIGINT) AS refunded_minor, \
        CAST(COALESCE(SUM(CASE WHEN l.currency <> c.currency OR l.order_id <> c.order_id \
                               THEN 1 ELSE 0 END), 0) AS BIGINT) AS strays \
        FROM charges c LEFT JOIN ledger_entries l ON l.charge_id = c.id \
        GROUP BY c.id, c.order_id, c.status, c.amount_minor, c.refunded_amount_minor) AS per_charge \
     WHERE NOT (strays = 0 AND ( \
        (status IN ('pending', 'declined') AND captures = 0 AND refunds = 0 \
            AND refunded_amount_minor = 0) \
        OR (status = 'captured' AND captures = 1 AND captured_minor = amount_minor \
            AND refunds = 0 AND refunded_amount_minor = 0) \
        OR (status = 'refunded' AND captures = 1 AND captured_minor = amount_minor \
            AND refunds = 1 AND refunded_minor = amount_minor \
            AND refunded_amount_minor = amount_minor))) \
     ORDER BY order_id, id LIMIT ?";

const TOTALS: &str = "SELECT currency, \
     CAST(SUM(CASE WHEN kind = 'capture' THEN 1 ELSE 0 END) AS BIGINT), \
     CAST(SUM(CASE WHEN kind = 'refund' THEN 1 ELSE 0 END) AS BIGINT), \
     CAST(SUM(CASE WHEN kind = 'capture' THEN amount_minor ELSE -amount_minor END) AS BIGINT) \
     FROM ledger_entries GROUP BY currency ORDER BY currency";

type MismatchRow = (String, String, String, i64, i64, i64, i64, i64, i64, i64);
/// An order id and how many captured charges it has.
type MultipleRow = (String, i64);
/// A currency, its captures, its refunds and its balance.
type TotalsRow = (String, i64, i64, i64);

impl Store {
    /// Checks every charge against the ledger. The three queries read one snapshot, so that a
    /// charge changing meanwhile cannot look inconsistent.
    pub async fn audit(&self) -> Result<Audit, Error> {
        let (multiple, mismatched, totals): (Vec<MultipleRow>, Vec<MismatchRow>, Vec<TotalsRow>) = {
            let mut tx = self.db.begin_read().await?;
            let multiple = Query::new(MULTIPLE_CAPTURES)
                .bind(MAX_LISTED)
                .fetch_all(&mut tx)
                .await?;
            let mismatched = Query::new(LEDGER_MISMATCHES)
                .bind(MAX_LISTED)
                .fetch_all(&mut tx)
                .await?;
            let totals = Query::new(TOTALS).fetch_all(&mut tx).await?;
            tx.commit().await?;
            (multiple, mismatched, totals)
        };
        let mut violations = Vec::new();
        for (order_id, count) in multiple {
            violations.push(Violation {
                kind: ViolationKind::MultipleCaptures,
                order_id: order_uuid(&order_id)?,
                charge_id: None,
                detail: format!("order {order_id} has {count} captured, unrefunded charges"),
            });
        }
        for row in mismatched {
            violations.push(mismatch(row)?);
        }
        let mut audit = Audit {
            violations,
            captures: 0,
            refunds: 0,
            balance_minor_by_currency: BTreeMap::new(),
        };
        for (currency, captures, refunds, balance) in totals {
            audit.captures += u64::try_from(captures).unwrap_or(0);
            audit.refunds += u64::try_from(refunds).unwrap_or(0);
            audit.balance_minor_by_currency.insert(currency, balance);
        }
        Ok(audit)
    }
}

fn mismatch(row: MismatchRow) -> Result<Violation, Error> {
    let (
        id,
        order_id,
        status,
        amount,
        refunded_amount,
        captures,
        captured,
        refunds,
        refunded,
        strays,
    ) = row;
    let charge_id = rows::uuid(&id, "id").map_err(|reason| Error::corrupt(&id, reason))?;
    Ok(Violation {
        kind: ViolationKind::LedgerMismatch,
        order_id: order_uuid(&order_id)?,
        charge_id: Some(charge_id),
        detail: format!(
            "charge {id} is {status} for {amount} (refunded_amount_minor {refunded_amount}) but \
             the ledger has {captures} capture(s) totalling {captured} and {refunds} refund(s) \
             totalling {refunded}, {strays} of them for another order or currency"
        ),
    })
}

fn order_uuid(text: &str) -> Result<uuid::Uuid, Error> {
    rows::uuid(text, "order_id").map_err(|reason| Error::corrupt(format!("order {text}"), reason))
}
