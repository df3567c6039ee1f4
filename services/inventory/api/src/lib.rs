//! The inventory service's contract: stock per SKU and reservations (reserve all or none,
//! commit, release, expiry): its wire types, the rules its inputs follow, its problem types, the
//! events it publishes ([`events`]) and a typed client. Callers (the orders saga, the gateway)
//! depend on this crate, never on the server.
//!
//! The promise behind it: for every SKU, `committed + held` never exceeds `stock`.

#![forbid(unsafe_code)]

mod client;
pub mod events;
mod rules;
mod types;

pub use client::{short_lines, InventoryClient};
pub use rules::{
    validate_sku, CheckedReservation, StockQuery, ValidationError, DEFAULT_TTL_MS, MAX_LINES,
    MAX_QUANTITY, MAX_SKU_CHARS, MAX_STOCK, MAX_STOCK_SKUS, MAX_TTL_MS, MIN_TTL_MS,
};
pub use types::{
    Audit, Reservation, ReservationLine, ReservationStatus, ReserveRequest, SetStock, ShortLine,
    StockLevel, StockLevels, Violation,
};

/// The inventory's routes, shared by the server's router and the client so that they cannot
/// drift.
pub mod paths {
    use uuid::Uuid;

    /// `GET`: levels of several SKUs ([`crate::StockQuery`] as the query string).
    pub const STOCK: &str = "/v1/stock";
    /// `GET`, `PUT`: one SKU's level (route pattern).
    pub const STOCK_LEVEL: &str = "/v1/stock/{sku}";
    /// `GET`, `PUT`: one order's reservation (route pattern).
    pub const RESERVATION: &str = "/v1/reservations/{order_id}";
    /// `POST`: commit a reservation (route pattern).
    pub const COMMIT: &str = "/v1/reservations/{order_id}/commit";
    /// `POST`: release a reservation (route pattern).
    pub const RELEASE: &str = "/v1/reservations/{order_id}/release";
    /// `GET`: counters that disagree with reservations (always none).
    pub const AUDIT: &str = "/v1/audit";

    /// One SKU's level. `sku` must be valid ([`crate::validate_sku`]): such SKUs need no escaping.
    pub fn stock_level(sku: &str) -> String {
        format!("{STOCK}/{sku}")
    }

    pub fn reservation(order_id: Uuid) -> String {
        format!("/v1/reservations/{order_id}")
    }

    pub fn commit(order_id: Uuid) -> String {
        format!("/v1/reservations/{order_id}/commit")
    }

    pub fn release(order_id: Uuid) -> String {
        format!("/v1/reservations/{order_id}/release")
    }

    brigade_chassis::uuid_parameter!(
        /// The `order_id` of `RESERVATION`, `COMMIT`, `RELEASE`; read by the chassis' `PathUuid`.
        pub OrderId = "order_id", "an order id"
    );
}

/// The inventory's own problem types (`urn:brigade:problem:<code>`), besides the chassis' ones.
/// Callers branch on these codes, never on the detail.
pub mod problems {
    /// 409: not enough stock for one line or more; nothing was reserved or recorded, so a later
    /// retry may succeed. Member `short`: [`crate::ShortLine`]s.
    pub const OUT_OF_STOCK: &str = "out-of-stock";
    /// 409: the order already has a reservation with other lines.
    pub const RESERVATION_MISMATCH: &str = "reservation-mismatch";
    /// 409: committing a released or expired reservation whose units are gone. Member `short`.
    pub const RESERVATION_EXPIRED: &str = "reservation-expired";
    /// 409: releasing a reservation that is sold.
    pub const ALREADY_COMMITTED: &str = "already-committed";
    /// 409: setting a SKU's stock below the units held and sold. Members `held`, `committed`.
    pub const STOCK_BELOW_RESERVED: &str = "stock-below-reserved";
    /// 422: a reservation names SKUs the inventory does not stock. Member `skus`.
    pub const UNKNOWN_SKU: &str = "unknown-sku";
}
