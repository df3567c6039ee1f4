//! The cart service's contract: one cart per signed-in user, its lines priced by the catalog.
//! Callers (the gateway, orders) depend on this crate, never on the server.
//!
//! - [`Cart`], [`CartLine`], [`SetQuantity`]: what goes over the wire;
//! - [`SetQuantity::validate`]: the input rules, shared so that an edge can refuse bad input with
//!   the service's own words before it costs a hop (a path's product id is the chassis'
//!   `PathUuid`);
//! - [`problems`]: the problem codes callers are expected to act on;
//! - [`CartClient`]: the typed client, which calls on a user's behalf with their token.
//!
//! Every route needs the user's access token; a user only ever sees and changes their own cart,
//! so no path carries a user id.

#![forbid(unsafe_code)]

mod client;
mod rules;
mod types;

pub use catalog_api::Money;
pub use client::CartClient;
pub use rules::{ValidationError, EMPTY_CART_CURRENCY, MAX_LINES, MAX_QUANTITY, MIN_QUANTITY};
pub use types::{Cart, CartLine, SetQuantity};

/// The cart's routes, shared by the server's router and the client so that they cannot drift.
pub mod paths {
    /// `GET`: the user's cart, re-priced by the catalog. `DELETE`: empty it.
    pub const CART: &str = "/v1/cart";
    /// The router's pattern for one line.
    pub const ITEM_PATTERN: &str = "/v1/cart/items/{product_id}";

    /// `PUT` ([`crate::SetQuantity`] as the body): add the product or set its quantity.
    /// `DELETE`: remove its line.
    pub fn item(product_id: uuid::Uuid) -> String {
        format!("/v1/cart/items/{product_id}")
    }

    brigade_chassis::uuid_parameter!(
        /// The `product_id` of `ITEM_PATTERN`, read by the chassis' `PathUuid`.
        pub ProductId = "product_id", "a product id"
    );
}

/// The problem codes (`urn:brigade:problem:<code>`) that the cart adds to the chassis' own.
pub mod problems {
    /// 422: the product named by the path is not in the catalog.
    pub const UNKNOWN_PRODUCT: &str = "unknown-product";
    /// 422: the cart already has [`crate::MAX_LINES`] distinct products.
    pub const CART_FULL: &str = "cart-full";
    /// 422: the product is priced in another currency than the cart's lines.
    pub const CURRENCY_MISMATCH: &str = "currency-mismatch";
}
