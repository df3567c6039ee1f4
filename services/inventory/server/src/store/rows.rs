//! Decoding rows. Every query of a kind selects the same columns, in the order given here.

use inventory_api::{Reservation, ReservationLine, ReservationStatus, StockLevel};
use uuid::Uuid;

use super::Error;

/// `sku, stock, held, committed`.
pub(crate) type LevelRow = (String, i64, i64, i64);

/// The columns of a [`LevelRow`] from table alias `s`.
pub(crate) const LEVEL_COLUMNS: &str = "s.sku, s.stock, s.held, s.committed";

pub(crate) fn level(row: LevelRow) -> Result<StockLevel, Error> {
    let (sku, stock, held, committed) = row;
    let counter = |value: i64, name: &str| {
        u64::try_from(value)
            .map_err(|_| Error::corrupt(format!("stock of {sku}"), format!("{name} is {value}")))
    };
    let (stock, held, committed) = (
        counter(stock, "stock")?,
        counter(held, "held")?,
        counter(committed, "committed")?,
    );
    let available = stock
        .checked_sub(held)
        .and_then(|rest| rest.checked_sub(committed))
        .ok_or_else(|| {
            Error::corrupt(
                format!("stock of {sku}"),
                format!("held {held} + committed {committed} exceed stock {stock}"),
            )
        })?;
    Ok(StockLevel {
        sku,
        stock,
        held,
        committed,
        available,
    })
}

/// `order_id, status, expires_at_ms, created_at_ms, updated_at_ms, sku, quantity`: one row per
/// line, in the lines' order.
pub(crate) type ReservationRow = (String, String, i64, i64, i64, String, i64);

/// The columns of a [`ReservationRow`] from `reservations r JOIN reservation_lines l`.
pub(crate) const RESERVATION_COLUMNS: &str =
    "r.order_id, r.status, r.expires_at_ms, r.created_at_ms, r.updated_at_ms, l.sku, l.quantity";

/// The reservation spread over `rows` (all of one order), or `None` when there are none.
pub(crate) fn reservation(rows: Vec<ReservationRow>) -> Result<Option<Reservation>, Error> {
    let Some((order_id, status, expires_at_ms, created_at_ms, updated_at_ms, ..)) =
        rows.first().cloned()
    else {
        return Ok(None);
    };
    let corrupt = |reason: String| Error::corrupt(format!("reservation {order_id}"), reason);
    let parsed_id =
        Uuid::parse_str(&order_id).map_err(|e| corrupt(format!("order id is not a UUID: {e}")))?;
    let status = ReservationStatus::parse(&status)
        .ok_or_else(|| corrupt(format!("unknown status `{status}`")))?;
    let time = |value: i64| u64::try_from(value).map_err(|_| corrupt(format!("time {value}")));
    let lines = rows
        .into_iter()
        .map(|(.., sku, quantity)| {
            let quantity = u32::try_from(quantity)
                .map_err(|_| corrupt(format!("quantity {quantity} of {sku}")))?;
            Ok(ReservationLine { sku, quantity })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Some(Reservation {
        order_id: parsed_id,
        status,
        lines,
        expires_at_ms: time(expires_at_ms)?,
        created_at_ms: time(created_at_ms)?,
        updated_at_ms: time(updated_at_ms)?,
    }))
}

/// Milliseconds as the store keeps them. Times before 2262 fit.
pub(crate) fn ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
