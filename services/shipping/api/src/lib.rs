//! The shipping service's contract: quotes (items and a destination country → a cost in minor
//! units of the catalog's currency and an estimated delivery date) and shipments (one per
//! confirmed order with a destination, made when orders' `OrderConfirmed` arrives, with a
//! tracking number). Callers (orders, the gateway, the storefront) depend on this crate, never
//! on the server.
//!
//! - [`QuoteRequest`], [`Quote`], [`Shipment`]: what goes over the wire;
//! - [`QuoteRequest::validate`], [`validate_country`]: the input rules, shared so that an edge
//!   refuses bad input with the service's own words before it costs a hop;
//! - [`problems`]: the problem codes callers act on;
//! - [`events`]: `ShipmentCreated`, published through the service's outbox;
//! - [`ShippingClient`]: the typed client.

#![forbid(unsafe_code)]

mod client;
pub mod events;
mod rules;
mod types;

pub use catalog_api::Money;
pub use client::ShippingClient;
pub use rules::{
    tracking_number, validate_country, ValidationError, DEFAULT_UNIT_WEIGHT_GRAMS, MAX_ITEMS,
    MAX_QUANTITY, MAX_SKU_CHARS, MAX_UNIT_WEIGHT_GRAMS,
};
pub use types::{Quote, QuoteAnswers, QuoteItem, QuoteRequest, Shipment, ShipmentStatus, Zone};

/// The service's routes, shared by the server's router and the client so that they cannot drift.
pub mod paths {
    use uuid::Uuid;

    /// `POST`: a quote ([`crate::QuoteRequest`] → [`crate::Quote`]).
    pub const QUOTES: &str = "/v1/quotes";
    /// `GET`: one order's shipment (route pattern).
    pub const SHIPMENT_PATTERN: &str = "/v1/shipments/{order_id}";

    /// One order's shipment.
    pub fn shipment(order_id: Uuid) -> String {
        format!("/v1/shipments/{order_id}")
    }

    brigade_chassis::uuid_parameter!(
        /// The `order_id` of `SHIPMENT_PATTERN`, read by the chassis' `PathUuid`.
        pub OrderId = "order_id", "an order id"
    );
}

/// The problem codes (`urn:brigade:problem:<code>`) shipping adds to the chassis' own.
pub mod problems {
    /// 422: the destination is a well-formed ISO 3166-1 alpha-2 code the shop does not ship to;
    /// member `country` names it.
    pub const UNKNOWN_COUNTRY: &str = "unknown-country";
    /// 503, answered by callers (orders, the gateway) when shipping could not be asked: nothing
    /// was ordered or charged.
    pub const SHIPPING_UNAVAILABLE: &str = "shipping-unavailable";
}
