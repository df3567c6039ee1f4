//! Decoding rows into orders. Every order query selects [`ORDER_COLUMNS`], in that order.

use catalog_api::Money;
use orders_api::{
    CancelReason, HistoryEntry, Order, OrderConversion, OrderLine, OrderShipping, OrderStatus,
    ShippingAddress,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use shipping_api::Quote;
use uuid::Uuid;

use super::Error;

/// The columns of an order, for a select list.
pub(crate) const ORDER_COLUMNS: &str = "id, user_id, status, cancel_reason, decline_code, lines, \
     total_minor, currency, charge_id, created_at_ms, updated_at_ms, shipping_address, \
     shipping_quote, tracking_number, conversion";

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
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// `step, outcome, detail, at_ms` of `order_steps`.
pub(crate) type StepRow = (String, String, String, i64);

pub(crate) fn uuid(id: &str, what: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(id).map_err(|_| Error::corrupt(what, format!("`{id}` is not a UUID")))
}

pub(crate) fn lines(json: &str) -> Result<Vec<OrderLine>, Error> {
    parse(json, "order lines")
}

/// `value` as the JSON text a column keeps.
pub(crate) fn json<T: Serialize>(value: &T, what: &str) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::corrupt(what, e))
}

/// A column's JSON text as `T`.
pub(crate) fn parse<T: DeserializeOwned>(json: &str, what: &str) -> Result<T, Error> {
    serde_json::from_str(json).map_err(|e| Error::corrupt(what, e))
}

/// The order's shipping from its columns: none when it was placed without an address.
fn shipping(
    address: Option<String>,
    quote: Option<String>,
    tracking_number: Option<String>,
) -> Result<Option<OrderShipping>, Error> {
    let (Some(address), Some(quote)) = (address, quote) else {
        return Ok(None);
    };
    let address: ShippingAddress = parse(&address, "shipping address")?;
    let quote: Quote = parse(&quote, "shipping quote")?;
    Ok(Some(OrderShipping {
        address,
        cost: quote.cost,
        carrier: quote.carrier,
        estimated_delivery: quote.estimated_delivery,
        tracking_number,
    }))
}

pub(crate) fn cancel_reason(reason: Option<&str>) -> Result<Option<CancelReason>, Error> {
    reason
        .map(|r| {
            CancelReason::parse(r)
                .ok_or_else(|| Error::corrupt("cancel reason", format!("`{r}` is unknown")))
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
        address,
        quote,
        tracking_number,
        conversion,
    ) = row;
    let conversion: Option<OrderConversion> = conversion
        .map(|c| parse(&c, "currency conversion"))
        .transpose()?;
    Ok(Order {
        id: uuid(&id, "order id")?,
        user_id: uuid(&user_id, "user id")?,
        status: OrderStatus::parse(&status)
            .ok_or_else(|| Error::corrupt("order status", format!("`{status}` is unknown")))?,
        cancel_reason: cancel_reason(reason.as_deref())?,
        decline_code,
        lines: lines(&lines_json)?,
        total: Money {
            amount_minor: total,
            currency,
        },
        shipping: shipping(address, quote, tracking_number)?,
        conversion,
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
