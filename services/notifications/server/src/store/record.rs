//! Writing from events, inside the transaction that records the event as applied (the [`Conn`]
//! the chassis' inbox hands to the handler).

use brigade_chassis::db::{Conn, Query};
use brigade_chassis::time::now_ms;
use notifications_api::Delivery;
use payments_api::events::PaymentRefunded;
use users_api::events::UserRegistered;
use uuid::Uuid;

use super::{sql, Error};
use crate::compose::Composed;

/// Knows the shopper and, from version 2 of users' `UserRegistered`, their address: so a
/// shopper's email goes out before they ever open their messages.
pub async fn record_user(conn: Conn<'_>, registered: &UserRegistered) -> Result<(), Error> {
    Query::new(sql::RECORD_USER)
        .bind(registered.user_id.to_string())
        .bind(i64::try_from(registered.registered_at_ms).unwrap_or(i64::MAX))
        .bind(registered.email.as_deref())
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes `message` with its first `delivery` status, unless a message telling the same fact
/// is stored already. True when it was written.
pub async fn write_message(
    mut conn: Conn<'_>,
    message: &Composed,
    delivery: Delivery,
) -> Result<bool, Error> {
    let now = now_ms();
    // "Newest first" must mean the order the messages were written in: two events applied in
    // the same millisecond (an order confirmed, then refunded) would otherwise tie, and the
    // mailbox would list them in the order of their ids.
    let (latest,): (Option<i64>,) = Query::new(sql::LATEST_MESSAGE_AT)
        .bind(message.user_id)
        .fetch_one(&mut conn)
        .await?;
    let created_at = latest.map_or(now, |latest| now.max(latest + 1));
    let written = Query::new(sql::INSERT_MESSAGE)
        .bind(message.id())
        .bind(message.user_id)
        .bind(message.kind.as_str())
        .bind(&message.origin)
        .bind(&message.subject)
        .bind(&message.text_body)
        .bind(&message.html_body)
        .bind(created_at)
        .bind(delivery.as_str())
        .bind(now)
        .execute(conn)
        .await?;
    Ok(written == 1)
}

/// Knows who owns `order_id`, and answers the refunds that were waiting for it (to be written
/// as messages now).
pub async fn record_owner(
    mut conn: Conn<'_>,
    order_id: Uuid,
    user_id: Uuid,
) -> Result<Vec<PaymentRefunded>, Error> {
    let order = order_id.to_string();
    Query::new(sql::RECORD_OWNER)
        .bind(&order)
        .bind(user_id.to_string())
        .execute(&mut conn)
        .await?;
    let waiting: Vec<(String, i64, String)> = Query::new(sql::WAITING_REFUNDS)
        .bind(&order)
        .fetch_all(&mut conn)
        .await?;
    Query::new(sql::FORGET_WAITING_REFUNDS)
        .bind(&order)
        .execute(&mut conn)
        .await?;
    waiting
        .into_iter()
        .map(|(refund_id, amount_minor, currency)| {
            Ok(PaymentRefunded {
                refund_id: super::parse_id(&refund_id, "refund")?,
                // The message does not show the charge: only its amount and order.
                charge_id: Uuid::nil(),
                order_id,
                amount: payments_api::events::Amount {
                    amount_minor,
                    currency,
                },
            })
        })
        .collect()
}

/// The owner of the refunded order when it is known; otherwise keeps the refund until the
/// order's event says whose it is ([`record_owner`]).
pub async fn record_refund(
    mut conn: Conn<'_>,
    refund: &PaymentRefunded,
) -> Result<Option<Uuid>, Error> {
    let owner: Option<(String,)> = Query::new(sql::ORDER_OWNER)
        .bind(refund.order_id.to_string())
        .fetch_optional(&mut conn)
        .await?;
    if let Some((user_id,)) = owner {
        return super::parse_id(&user_id, "order owner").map(Some);
    }
    Query::new(sql::WAIT_REFUND)
        .bind(refund.refund_id.to_string())
        .bind(refund.order_id.to_string())
        .bind(refund.amount.amount_minor)
        .bind(&refund.amount.currency)
        .execute(conn)
        .await?;
    Ok(None)
}
