//! What goes over the wire. Field names are the JSON names; changing one breaks callers.

use std::collections::BTreeMap;

use catalog_api::Money;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The `Idempotency-Key` header of `POST /v1/checkout`, which the orders service and the gateway
/// in front of it document alike.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct CheckoutKey {
    #[doc = "1 to 128 visible ASCII characters: a unique value per checkout, the same when \
        repeating it. Missing or malformed: 400 invalid-parameter."]
    #[param(rename = "Idempotency-Key", pattern = r"^[!-~]{1,128}$")]
    pub idempotency_key: String,
}

/// `POST /v1/checkout` body. Its `Debug` masks the card number, so that logging a request can
/// never leak one.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    #[schema(pattern = "^[0-9]{12,19}$")]
    /// 12 to 19 digits; the payments service decides whether the card is good.
    pub card_number: String,
    /// Where the order ships. With it, the checkout asks shipping for a quote and adds its cost
    /// to the total charged (shipping unavailable: 503 `shipping-unavailable`, nothing
    /// ordered), and shipping makes the order's shipment once it is confirmed. Without it, the
    /// order is not shipped and costs its lines only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<ShippingAddress>,
    /// The currency to pay in (ISO 4217, e.g. `USD`). Absent, or the catalog's own currency:
    /// the order is charged in the catalog's currency. Another one: orders converts the whole
    /// total (lines and shipping) through the currency service at its rates in force, records
    /// the conversion with the order (`conversion`) and charges the converted amount in this
    /// currency. A code the currency service has no rate for: 422 `unknown-currency`; the
    /// currency service unavailable: 503 `currency-unavailable`, nothing ordered or charged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[A-Z]{3}$", example = "USD")]
    pub currency: Option<String>,
}

impl std::fmt::Debug for CheckoutRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckoutRequest")
            .field("card_number", &"<masked>")
            .field("shipping_address", &self.shipping_address)
            .field("currency", &self.currency)
            .finish()
    }
}

/// Where an order ships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingAddress {
    /// Who receives it: 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub street: String,
    /// 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub city: String,
    /// 1 to 16 letters, digits, spaces or `-`.
    #[schema(pattern = "^[A-Za-z0-9 -]{1,16}$")]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, upper case; one shipping ships to (else 422 `unknown-country`).
    #[schema(pattern = "^[A-Z]{2}$")]
    pub country: String,
}

/// An order's shipping: where, for how much (included in the order's `total`), with whom, and
/// once shipping made the shipment, its tracking number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderShipping {
    pub address: ShippingAddress,
    /// Part of the order's `total`.
    pub cost: Money,
    pub carrier: String,
    /// `YYYY-MM-DD`, as quoted at checkout.
    pub estimated_delivery: String,
    /// Set once the order is confirmed and shipping made its shipment.
    pub tracking_number: Option<String>,
}

/// How an order paid in another currency than the catalog's was converted: its `total` (what
/// was charged) is `base_total` converted at the currency service's reference rates of
/// `rate_date`, exactly and rounded half to even to a whole minor unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderConversion {
    /// The total in the catalog's currency (the lines, plus shipping), before conversion.
    pub base_total: Money,
    /// Units of the charged currency one unit of `base_total`'s buys, to 8 decimal places: for
    /// showing (the amount was computed from the two reference rates).
    #[schema(example = "1.1645")]
    pub rate: String,
    /// The reference rate (units per euro) of `base_total`'s currency.
    #[schema(example = "1")]
    pub from_rate: String,
    /// The reference rate (units per euro) of the charged currency.
    #[schema(example = "1.1645")]
    pub to_rate: String,
    /// The day the reference rates are for (`YYYY-MM-DD`).
    #[schema(format = Date)]
    pub rate_date: String,
}

/// Where an order is in its life. `PENDING` while the checkout saga runs; the other two are
/// final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    Pending,
    Confirmed,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 3] = [
        OrderStatus::Pending,
        OrderStatus::Confirmed,
        OrderStatus::Cancelled,
    ];

    /// The name used on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::Confirmed => "CONFIRMED",
            OrderStatus::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(name: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Confirmed or cancelled: nothing will change it any more.
    pub fn is_final(self) -> bool {
        self != OrderStatus::Pending
    }
}

/// Why an order was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// Inventory could not reserve every line.
    OutOfStock,
    /// The card was declined (`decline_code` says why); the reservation was released.
    PaymentDeclined,
    /// The payment's outcome stayed unknown (processor errors, timeouts) past the retry bound;
    /// the reservation was released and nothing stayed charged.
    PaymentFailed,
    /// Paid, but the reservation had expired and the stock was gone: the charge was refunded.
    ReservationExpired,
    /// Payments could not be reached at all (no instance, circuit open, connection refused), so
    /// no charge was made; the reservation was released. The checkout answered 503
    /// `payments-unavailable`.
    PaymentUnavailable,
}

impl CancelReason {
    pub const ALL: [CancelReason; 5] = [
        CancelReason::OutOfStock,
        CancelReason::PaymentDeclined,
        CancelReason::PaymentFailed,
        CancelReason::ReservationExpired,
        CancelReason::PaymentUnavailable,
    ];

    /// The name used on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::OutOfStock => "out_of_stock",
            CancelReason::PaymentDeclined => "payment_declined",
            CancelReason::PaymentFailed => "payment_failed",
            CancelReason::ReservationExpired => "reservation_expired",
            CancelReason::PaymentUnavailable => "payment_unavailable",
        }
    }

    pub fn parse(name: &str) -> Option<CancelReason> {
        CancelReason::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// One line of an order, priced by the catalog at checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderLine {
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    pub unit_price: Money,
    pub quantity: u32,
    /// `unit_price` times `quantity`.
    pub line_total: Money,
}

/// One recorded saga event: a step started, or how it ended; or a refund payments announced
/// (`refund` / `refunded`, also for a refund made after the order was confirmed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    /// `created`, `reserve`, `charge`, `commit`, `release`, `refund`, `confirm`, `cancel`,
    /// `ship` (shipping made the shipment).
    pub step: String,
    /// `started`, `ok`, or what happened instead (`out_of_stock`, `declined`, `error`,
    /// `refunded`, `shipped`, …).
    pub outcome: String,
    pub detail: String,
    /// Unix milliseconds.
    pub at_ms: u64,
}

/// An order, with the history of its checkout saga.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Order {
    pub id: Uuid,
    pub user_id: Uuid,
    pub status: OrderStatus,
    /// Set when `status` is `CANCELLED`.
    pub cancel_reason: Option<CancelReason>,
    /// Set when the payment was declined (e.g. `card_declined`, `insufficient_funds`).
    pub decline_code: Option<String>,
    pub lines: Vec<OrderLine>,
    /// What is charged, in the currency charged: the lines plus `shipping.cost` when the order
    /// ships, converted when the checkout asked for another currency (then `conversion` says
    /// from what and at which rate; the lines and the shipping cost stay in the catalog's
    /// currency).
    pub total: Money,
    /// Set when the checkout gave a shipping address.
    pub shipping: Option<OrderShipping>,
    /// Set when the order was paid in another currency than the catalog's.
    #[serde(default)]
    pub conversion: Option<OrderConversion>,
    /// The payment's charge, once one exists.
    pub charge_id: Option<Uuid>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    /// Oldest first.
    pub history: Vec<HistoryEntry>,
}

/// `GET /v1/orders`: one page of the user's orders, newest first. `page` counts from 1; `total`
/// is the number of the user's orders on all pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderPage {
    pub items: Vec<Order>,
    pub page: u32,
    pub page_size: u32,
    pub total: u64,
}

/// `GET /v1/audit`: what the promise checker looks at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Audit {
    /// Orders still `PENDING` longer than the asked age: a saga that should have finished.
    pub unfinished: Vec<Uuid>,
    /// How many orders there are in each status (every status named, zero included).
    pub orders: BTreeMap<String, u64>,
}

/// One order's id and status, as the promise checker reads them (`GET /v1/audit/orders`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderStatusEntry {
    pub id: Uuid,
    pub status: OrderStatus,
    /// What the order charges (its `total`: converted, when paid in another currency than the
    /// catalog's), for the checker to compare with the capture.
    pub total: Money,
}

/// A page of every user's orders by id, for operators and the promise checker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderStatusPage {
    pub items: Vec<OrderStatusEntry>,
    /// The `after` of the next page; `None` on the last one.
    pub next: Option<Uuid>,
}
