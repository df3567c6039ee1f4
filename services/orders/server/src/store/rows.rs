//! Decoding rows into orders. Every order query selects [`ORDER_COLUMNS`], in that order.

use catalog_api::Money;
use orders_api::{CancelReason, HistoryEntry, Order, OrderLine, OrderStatus};
use uuid::Uuid;

use super::Error;

/// The columns of an order, for a select list.
pub(crate) const ORDER_COLUMNS: &str = "id, user_id, status, cancel_reason, decline_code, lines, \
     total_minor, currency, charge_id, created_at_ms, updated_at_ms";

/// A row of [`ORDER_COLUMNS`].
pub(crate) type OrderRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    String,
    Option<String>,
    i64,
    i64,
);

/// `step, outcome, detail, at_ms` of `order_steps`.
pub(crate) type StepRow = (String, String, String, i64);

pub(crate) fn uuid(id: &str, what: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(id).map_err(|_| Error::Corrupt(format!("{what} `{id}` is not a UUID")))
}

pub(crate) fn lines(json: &str) -> Result<Vec<OrderLine>, Error> {
    serde_json::from_str(json).map_err(|e| Error::Corrupt(format!("order lines: {e}")))
}

pub(crate) fn cancel_reason(reason: Option<&str>) -> Result<Option<CancelReason>, Error> {
    reason
        .map(|r| {
            CancelReason::parse(r).ok_or_else(|| Error::Corrupt(format!("cancel reason `{r}`")))
        })
        .transpose()
}

pub(crate) fn order(row: OrderRow, history: Vec<StepRow>) -> Result<Order, Error> {
    let (
        id,
        user_id,
        status,
        reason,
        decline_code,
        lines_json,
        total,
        currency,
        charge_id,
        created,
        updated,
    ) = row;
    Ok(Order {
        id: uuid(&id, "order id")?,
        user_id: uuid(&user_id, "user id")?,
        status: OrderStatus::parse(&status)
            .ok_or_else(|| Error::Corrupt(format!("order status `{status}`")))?,
        cancel_reason: cancel_reason(reason.as_deref())?,
        decline_code,
        lines: lines(&lines_json)?,
        total: Money {
            amount_minor: total,
            currency,
        },
        charge_id: charge_id.map(|c| uuid(&c, "charge id")).transpose()?,
        created_at_ms: u64::try_from(created).unwrap_or(0),
        updated_at_ms: u64::try_from(updated).unwrap_or(0),
        history: history
            .into_iter()
            .map(|(step, outcome, detail, at_ms)| HistoryEntry {
                step,
                outcome,
                detail,
                at_ms: u64::try_from(at_ms).unwrap_or(0),
            })
            .collect(),
    })
}
