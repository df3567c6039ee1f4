//! The orders service's contract: orders and the checkout saga (reserve, charge, commit, or
//! compensate). Callers (the gateway, the promise checker) depend on this crate, never on the
//! server.
//!
//! - [`Order`], [`CheckoutRequest`], [`OrderPage`], [`Audit`]: what goes over the wire;
//! - [`CheckoutRequest::validate`], [`check_idempotency_key`], [`ListOrders::validate`]: the input
//!   rules, shared so that an edge can refuse bad input with the service's own words;
//! - [`problems`]: the problem codes callers are expected to act on;
//! - [`OrdersClient`]: the typed client.

#![forbid(unsafe_code)]

mod client;
pub mod events;
mod rules;
mod types;

pub use catalog_api::Money;
pub use client::{CheckoutAnswer, OrdersClient};
pub use rules::{
    check_idempotency_key, AuditOrdersQuery, AuditQuery, ListOrders, OrderListQuery,
    ValidationError, DEFAULT_AUDIT_AGE_S, DEFAULT_PAGE_SIZE, MAX_AUDIT_AGE_S,
    MAX_AUDIT_ORDERS_LIMIT, MAX_CARD_DIGITS, MAX_IDEMPOTENCY_KEY_CHARS, MAX_PAGE_SIZE,
    MIN_CARD_DIGITS,
};
pub use types::{
    Audit, CancelReason, CheckoutKey, CheckoutRequest, HistoryEntry, Order, OrderConversion,
    OrderLine, OrderPage, OrderShipping, OrderStatus, OrderStatusEntry, OrderStatusPage,
    ShippingAddress,
};

/// The orders service's routes, shared by the server's router and the client so that they
/// cannot drift.
pub mod paths {
    /// `POST`: check out the user's cart (header `Idempotency-Key`, body
    /// [`crate::CheckoutRequest`]).
    pub const CHECKOUT: &str = "/v1/checkout";
    /// `GET`: the user's orders, newest first ([`crate::ListOrders`] as the query string).
    pub const ORDERS: &str = "/v1/orders";
    /// The router's pattern for one order.
    pub const ORDER_PATTERN: &str = "/v1/orders/{id}";
    /// `GET`: unfinished sagas and orders by status, for the promise checker.
    pub const AUDIT: &str = "/v1/audit";
    /// `GET`: every order's id and status, paged by id ([`crate::AuditOrdersQuery`]), for the
    /// promise checker.
    pub const AUDIT_ORDERS: &str = "/v1/audit/orders";

    /// `GET`: one of the user's orders.
    pub fn order(id: uuid::Uuid) -> String {
        format!("{ORDERS}/{id}")
    }

    brigade_chassis::uuid_parameter!(
        /// The `id` of `ORDER_PATTERN`, read by the chassis' `PathUuid`.
        pub OrderId = "id", "an order id"
    );
}

/// The problem codes (the last part of a problem's `type`) that the orders service adds to the
/// chassis' own.
pub mod problems {
    /// 422: the cart has no lines; nothing was recorded.
    pub const EMPTY_CART: &str = "empty-cart";
    /// 422: a product in the cart is no longer in the catalog (`product_ids` names them);
    /// nothing was recorded.
    pub const PRODUCT_UNAVAILABLE: &str = "product-unavailable";
    /// 422: the cart's lines are priced in more than one currency; nothing was recorded.
    pub const MIXED_CURRENCIES: &str = "mixed-currencies";
    /// 422: the `Idempotency-Key` was used before by this user with a different body; the
    /// `order_id` member names the order it belongs to.
    pub const IDEMPOTENCY_KEY_REUSED: &str = "idempotency-key-reused";
    /// 409: a request with this `Idempotency-Key` is being answered right now; ask again in a
    /// moment (`order_id` names the order it created).
    pub const REQUEST_IN_PROGRESS: &str = "request-in-progress";
    /// 503: payments cannot be reached, so nothing was charged. Either nothing was recorded
    /// (refused before the order was made), or the order named by `order_id` was made and then
    /// cancelled with reason `payment_unavailable`, its stock released. The cart is untouched:
    /// check out again shortly, with a new `Idempotency-Key`.
    pub const PAYMENTS_UNAVAILABLE: &str = "payments-unavailable";
    /// 503: shipping could not be asked for the quote of the order's shipping address, so
    /// nothing was ordered, reserved or charged; check out again shortly (or without an
    /// address).
    pub const SHIPPING_UNAVAILABLE: &str = shipping_api::problems::SHIPPING_UNAVAILABLE;
    /// 422: shipping does not ship to the address's country (`country` names it); nothing was
    /// recorded.
    pub const UNKNOWN_COUNTRY: &str = shipping_api::problems::UNKNOWN_COUNTRY;
    /// 422: the currency service has no rate for the checkout's `currency`; nothing was
    /// recorded.
    pub const UNKNOWN_CURRENCY: &str = currency_api::problems::UNKNOWN_CURRENCY;
    /// 503: the checkout asked for another currency than the catalog's and the currency service
    /// could not be asked, so nothing was ordered, reserved or charged; check out again shortly,
    /// or in the catalog's currency (which needs no conversion).
    pub const CURRENCY_UNAVAILABLE: &str = currency_api::problems::CURRENCY_UNAVAILABLE;
}
