//! The events a saga's persisted steps announce: `OrderPlaced` with the order, then
//! `OrderConfirmed` or `OrderCancelled` with its end. Each is built from what the step's own
//! transaction wrote and appended to the outbox inside that transaction, so that a step that
//! committed always has its event and a step that changed nothing (a repeat, a lost lease) has
//! none.

use brigade_chassis::events::Outbox;
use catalog_api::Money;
use orders_api::events::{OrderCancelled, OrderConfirmed, OrderPlaced};
use orders_api::{OrderStatus, ShippingAddress};
use uuid::Uuid;

use super::{rows, Error, NewOrder};
use brigade_chassis::db::Tx;

/// What the final transition's `UPDATE … RETURNING` gives back:
/// `user_id, lines, total_minor, currency, charge_id, cancel_reason, shipping_address,
/// cart_version`, as they are after it.
pub(super) type EndRow = (String, String, i64, String, Text, Text, Text, Option<i64>);

/// A nullable text column.
type Text = Option<String>;

/// The columns of an [`EndRow`], for a `RETURNING` list.
pub(super) const END_COLUMNS: &str =
    "user_id, lines, total_minor, currency, charge_id, cancel_reason, shipping_address, \
     cart_version";

/// Appends `OrderPlaced` for the order `tx` has just inserted.
pub(super) async fn placed(tx: &mut Tx, outbox: &Outbox, order: &NewOrder) -> Result<(), Error> {
    let event = OrderPlaced {
        order_id: order.id,
        user_id: order.user_id,
        lines: order.lines.clone(),
        total: order.total.clone(),
    };
    outbox.append(tx.conn(), &event).await?;
    Ok(())
}

/// Appends the event of the order's end when `status` is final (`OrderConfirmed` or
/// `OrderCancelled`), from the order as `tx` has just left it. False when `status` is not final:
/// nothing to announce.
pub(super) async fn ended(
    tx: &mut Tx,
    outbox: &Outbox,
    order_id: Uuid,
    status: OrderStatus,
    row: EndRow,
) -> Result<bool, Error> {
    let (user_id, lines, total_minor, currency, charge_id, reason, address, cart_version) = row;
    let user_id = rows::uuid(&user_id, "user id")?;
    let lines = rows::lines(&lines)?;
    match status {
        OrderStatus::Pending => Ok(false),
        OrderStatus::Confirmed => {
            let event = OrderConfirmed {
                order_id,
                user_id,
                lines,
                total: Money {
                    amount_minor: total_minor,
                    currency,
                },
                charge_id: charge_id.map(|c| rows::uuid(&c, "charge id")).transpose()?,
                // Shipping makes the shipment from this.
                shipping_country: address
                    .map(|a| rows::parse::<ShippingAddress>(&a, "shipping address"))
                    .transpose()?
                    .map(|a| a.country),
                // The cart takes out only lines of this version or older.
                cart_version: cart_version.and_then(|v| u64::try_from(v).ok()),
            };
            outbox.append(tx.conn(), &event).await?;
            Ok(true)
        }
        OrderStatus::Cancelled => {
            // Every transition to CANCELLED records its reason in the same UPDATE.
            let reason = rows::cancel_reason(reason.as_deref())?.ok_or_else(|| {
                Error::corrupt(format!("order {order_id}"), "cancelled without a reason")
            })?;
            let event = OrderCancelled {
                order_id,
                user_id,
                reason,
                lines,
            };
            outbox.append(tx.conn(), &event).await?;
            Ok(true)
        }
    }
}
