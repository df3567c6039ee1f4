//! `/orders` (the shopper's orders, each with its steps) and `/orders/{id}` (one order: the
//! confirmation page after checkout). A pending order's status updates by itself until it
//! settles: htmx asks `/orders/{id}/status` every two seconds and swaps the section in;
//! without JavaScript the page reloads itself (a `<noscript>` meta refresh) and has a link.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use brigade_chassis::client::Error as ClientError;
use orders_api::{CancelReason, HistoryEntry, ListOrders, Order, OrderShipping, OrderStatus};
use uuid::Uuid;

use crate::currency::Prices;
use crate::layout::Layout;
use crate::session::{SessionHandle, Shopper};
use crate::{failure, format_money, Storefront};

const PAGE_SIZE: u32 = 10;

/// One step of an order's history, in words.
pub struct StepView {
    when: String,
    what: String,
}

/// An order as its pages show it.
pub struct OrderView {
    id: Uuid,
    /// Its status in words, and the class that colours it.
    status: &'static str,
    status_class: &'static str,
    /// Why it was cancelled, or what it waits for.
    explanation: Option<String>,
    pending: bool,
    placed_at: String,
    /// What was charged, in the currency charged.
    total: String,
    /// The currency charged, by its code.
    currency: String,
    /// When paid in another currency than the catalog's: the total in the catalog's currency
    /// and the conversion in words.
    base_total: Option<String>,
    converted: Option<String>,
    lines: Vec<super::LineSummary>,
    steps: Vec<StepView>,
    shipping: Option<ShippingView>,
    /// Pending, or confirmed and waiting for its tracking number: the status follows it.
    watching: bool,
}

/// Where and how an order ships, in words.
pub struct ShippingView {
    cost: String,
    /// "Ada Lovelace, 1 rue de la Paix, 75002 Paris, FR".
    to: String,
    carrier: String,
    estimated_delivery: String,
    tracking_number: Option<String>,
}

impl ShippingView {
    fn of(shipping: &OrderShipping) -> ShippingView {
        let a = &shipping.address;
        ShippingView {
            cost: format_money(&shipping.cost),
            to: format!(
                "{}, {}, {} {}, {}",
                a.name, a.street, a.postal_code, a.city, a.country
            ),
            carrier: shipping.carrier.clone(),
            estimated_delivery: shipping.estimated_delivery.clone(),
            tracking_number: shipping.tracking_number.clone(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "order.html")]
struct OrderPage {
    layout: Layout,
    order: OrderView,
}

#[derive(Template, WebTemplate)]
#[template(path = "order_status.html")]
struct OrderStatusFragment {
    order: OrderView,
}

#[derive(Template, WebTemplate)]
#[template(path = "orders.html")]
struct OrdersPage {
    layout: Layout,
    orders: Vec<OrderView>,
    previous: Option<String>,
    next: Option<String>,
}

/// A card's decline code in words.
pub fn decline_words(code: Option<&str>) -> String {
    match code {
        Some("card_declined") => "the bank declined the card".to_owned(),
        Some("insufficient_funds") => "the card has insufficient funds".to_owned(),
        Some(other) => format!("the bank said “{}”", other.replace('_', " ")),
        None => "the bank gave no reason".to_owned(),
    }
}

/// The lines inventory was short of, named from the reservation's refusal ("The Copper
/// Kettle is", "The A and the B are").
pub fn short_lines(order: &Order) -> String {
    let refusal = order
        .history
        .iter()
        .rev()
        .find(|entry| entry.outcome == "out_of_stock")
        .map_or("", |entry| entry.detail.as_str());
    let named: Vec<&str> = order
        .lines
        .iter()
        .filter(|line| refusal.contains(&line.sku))
        .map(|line| line.name.as_str())
        .collect();
    match named.as_slice() {
        [] => "A product in your cart is".to_owned(),
        [one] => format!("{one} is"),
        many => format!("{} are", many.join(" and ")),
    }
}

fn step_words(entry: &HistoryEntry) -> String {
    let said = match (entry.step.as_str(), entry.outcome.as_str()) {
        ("created", _) => "Order placed",
        ("reserve", "started") => "Reserving the products",
        ("reserve", "ok") => "Products reserved",
        ("reserve", "out_of_stock") => "Not enough stock",
        ("charge", "started") => "Charging the card",
        ("charge", "captured" | "ok") => "Payment approved",
        ("charge", "declined") => "Payment declined",
        ("charge", "pending") => "Payment pending: waiting for the bank",
        ("charge", "error") => "Payment did not go through; trying again",
        ("commit", "started") => "Setting the products aside",
        ("commit", "ok") => "Products set aside for you",
        ("release", _) => "Reserved products put back",
        ("refund", "started") => "Refunding the payment",
        ("refund", "ok" | "refunded") => "Payment refunded",
        ("confirm", _) => "Order confirmed",
        ("cancel", _) => "Order cancelled",
        ("ship", "shipped") => "Shipped",
        (step, outcome) => return format!("{step}: {}", outcome.replace('_', " ")),
    };
    said.to_owned()
}

impl OrderView {
    fn of(order: &Order) -> OrderView {
        let (status, status_class) = match order.status {
            OrderStatus::Pending => ("Pending", "status-pending"),
            OrderStatus::Confirmed => ("Confirmed", "status-confirmed"),
            OrderStatus::Cancelled => ("Cancelled", "status-cancelled"),
        };
        let explanation = match (order.status, order.cancel_reason) {
            (OrderStatus::Pending, _) => Some(
                "We are waiting for the payment to settle; this page updates by itself.".to_owned(),
            ),
            (_, Some(CancelReason::PaymentDeclined)) => Some(format!(
                "The payment was declined: {}. Nothing was charged.",
                decline_words(order.decline_code.as_deref())
            )),
            (_, Some(CancelReason::OutOfStock)) => Some(format!(
                "{} no longer in stock, so nothing was charged.",
                short_lines(order)
            )),
            (_, Some(CancelReason::PaymentUnavailable)) => Some(
                "Payments were unavailable, so nothing was charged.".to_owned(),
            ),
            (_, Some(CancelReason::ReservationExpired)) => Some(
                "The products were no longer available when the payment settled; the payment was refunded.".to_owned(),
            ),
            (_, Some(CancelReason::PaymentFailed)) => Some(
                "The payment could not be completed; nothing stays charged.".to_owned(),
            ),
            (_, None) => None,
        };
        let shipping = order.shipping.as_ref().map(ShippingView::of);
        let awaiting_shipment = order.status == OrderStatus::Confirmed
            && shipping
                .as_ref()
                .is_some_and(|s| s.tracking_number.is_none());
        OrderView {
            watching: order.status == OrderStatus::Pending || awaiting_shipment,
            shipping,
            id: order.id,
            status,
            status_class,
            explanation,
            pending: order.status == OrderStatus::Pending,
            placed_at: super::when(order.created_at_ms),
            total: format_money(&order.total),
            currency: order.total.currency.clone(),
            base_total: order
                .conversion
                .as_ref()
                .map(|c| format_money(&c.base_total)),
            converted: order.conversion.as_ref().map(|c| {
                format!(
                    "Charged in {}: converted from {} at {} {} to 1 {} (reference rates of {}).",
                    order.total.currency,
                    format_money(&c.base_total),
                    c.rate,
                    order.total.currency,
                    c.base_total.currency,
                    c.rate_date
                )
            }),
            lines: order
                .lines
                .iter()
                .map(|l| {
                    super::LineSummary::of(
                        &l.name,
                        l.quantity,
                        &l.line_total,
                        &Prices::as_recorded(),
                    )
                })
                .collect(),
            steps: order
                .history
                .iter()
                .map(|entry| StepView {
                    when: super::when(entry.at_ms),
                    what: step_words(entry),
                })
                .collect(),
        }
    }
}

/// The order, or the page to answer instead.
async fn fetch(
    shop: &Storefront,
    session: &SessionHandle,
    id: &str,
) -> Result<(Shopper, Order), Response> {
    let back = format!("/orders/{id}");
    let Some(shopper) = session.shopper() else {
        return Err(super::to_log_in(session, &back, "Log in to see your orders.").into_response());
    };
    let Some(id) = super::parse_id(id) else {
        return Err(failure::not_found(session, "order"));
    };
    match shop.orders.order(&shopper.token, id).await {
        Ok(order) => Ok((shopper, order)),
        Err(error) => Err(orders_failed(session, &error, &back)),
    }
}

fn orders_failed(session: &SessionHandle, error: &ClientError, back: &str) -> Response {
    super::own_call_failed(session, error, back, "order", "Your orders")
}

pub async fn show(
    State(shop): State<Storefront>,
    session: SessionHandle,
    Path(id): Path<String>,
) -> Response {
    let order = match fetch(&shop, &session, &id).await {
        Ok((_, order)) => OrderView::of(&order),
        Err(page) => return page,
    };
    let mut layout = Layout::new(&session, "Your order");
    if order.watching {
        layout = layout.refreshing();
    }
    OrderPage { layout, order }.into_response()
}

/// The status section alone, for htmx. When the order cannot be read, the section it already
/// shows stays (204: htmx swaps nothing) and it asks again at the next tick.
pub async fn status(
    State(shop): State<Storefront>,
    session: SessionHandle,
    Path(id): Path<String>,
) -> Response {
    match fetch(&shop, &session, &id).await {
        Ok((_, order)) => OrderStatusFragment {
            order: OrderView::of(&order),
        }
        .into_response(),
        Err(_) => axum::http::StatusCode::NO_CONTENT.into_response(),
    }
}

pub async fn list(
    State(shop): State<Storefront>,
    session: SessionHandle,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(shopper) = session.shopper() else {
        return super::to_log_in(&session, "/orders", "Log in to see your orders.").into_response();
    };
    let page = super::page_number(raw.as_deref());
    let asked = ListOrders {
        page: Some(page),
        page_size: Some(PAGE_SIZE),
    };
    let found = match shop.orders.orders(&shopper.token, &asked).await {
        Ok(found) => found,
        Err(error) => return orders_failed(&session, &error, "/orders"),
    };
    let (previous, next) = super::pager("/orders", page, PAGE_SIZE, found.total);
    OrdersPage {
        layout: Layout::new(&session, "Your orders"),
        orders: found.items.iter().map(OrderView::of).collect(),
        previous,
        next,
    }
    .into_response()
}
