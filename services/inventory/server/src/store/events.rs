//! `StockChanged`: what every change of a SKU's counters announces, with the counters as the
//! change left them.
//!
//! The event is appended right after the statement that changed the SKU's row, inside its
//! transaction: that statement's row lock (SQLite's write lock, or PostgreSQL's row lock held
//! until commit) orders concurrent changes of one SKU, and so the sequence numbers of its events.

use brigade_chassis::events::Outbox;
use inventory_api::events::StockChanged;
use inventory_api::StockLevel;

use super::{Error, Tx};

/// Appends `StockChanged` for `level`, the SKU as `tx` has just left it.
pub(crate) async fn stock_changed(
    tx: &mut Tx,
    outbox: &Outbox,
    level: StockLevel,
) -> Result<(), Error> {
    outbox.append(tx.conn(), &StockChanged::from(level)).await?;
    Ok(())
}
