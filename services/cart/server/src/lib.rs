//! The cart service: one cart per signed-in user, its lines validated and priced by the catalog.
//!
//! - [`lines`]: the cart's rules on lines in memory (re-pricing, quantities, limits, taking
//!   out what an order bought);
//! - [`store`]: carts on SQLite or PostgreSQL, each change in one transaction;
//! - [`events`]: orders' `OrderConfirmed`, which takes the ordered lines out of the cart;
//! - [`http`]: the `/v1` routes and the OpenAPI document.
//!
//! The wire types and input rules are in `cart-api`, which callers depend on instead of this.
//!
//! **Architecture invariant:** prices, skus and names come from the catalog (through
//! `catalog_api::CatalogClient`), never from the caller; the cart only remembers the last ones
//! it was told, to answer when the catalog is down.

#![forbid(unsafe_code)]

pub mod events;
pub mod http;
pub mod lines;
pub mod store;

use brigade_chassis::db::Migration;
use brigade_chassis::events::INBOX_MIGRATION;
use brigade_chassis::service::{Context, Dependencies, Service};
use brigade_chassis::BoxError;
use catalog_api::CatalogClient;

pub use http::{router, AppState};
pub use store::Store;

/// The cart's schema and the chassis' inbox (which events were applied, which parked), applied
/// at start by the chassis under the store's write lock.
pub const MIGRATIONS: &[Migration] = &[
    brigade_chassis::migration!(1, "cart", "../migrations/0001_cart"),
    brigade_chassis::migration!(2, "set_version", "../migrations/0002_set_version"),
    INBOX_MIGRATION,
];

/// The service the cart asks for prices.
pub const CATALOG: &str = "catalog";

/// The cart service, to the chassis: `brigade_chassis::service::main::<Cart>()`.
#[derive(Debug)]
pub struct Cart;

impl Service for Cart {
    brigade_chassis::service_identity!(
        "cart",
        "Brigade's cart service: one cart per user, priced by the catalog"
    );
    // Users: the keys that verify shoppers' access tokens.
    const DEPENDS_ON: Dependencies = Dependencies {
        calls: &["catalog", "users"],
        consumes: &["orders"],
        ..Dependencies::NONE
    };
    const MIGRATIONS: &'static [Migration] = MIGRATIONS;
    /// The cart has no flags of its own.
    type Args = brigade_chassis::service::NoArgs;

    /// Subscribes to orders' events (every instance consumes; each event is applied once in the
    /// store they share), gets the token verifier and the catalog client, and builds the routes.
    async fn build(mut ctx: Context, _args: Self::Args) -> Result<axum::Router, BoxError> {
        let db = ctx.store()?;
        ctx.subscribe(&db, events::orders()).await?;
        let state = AppState {
            store: Store::new(db),
            catalog: CatalogClient::new(ctx.client(CATALOG)?),
            verifier: ctx.verifier()?,
        };
        Ok(router(state))
    }
}
