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
use brigade_chassis::service::{self, Context, ServiceArgs, ServiceInfo};
use brigade_chassis::BoxError;
use catalog_api::CatalogClient;

pub use http::{router, AppState};
pub use store::Store;

/// The cart's schema and the chassis' inbox (which events were applied, which parked), applied
/// at start by the chassis under the store's write lock.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "cart",
        sqlite: include_str!("../migrations/0001_cart.sqlite.sql"),
        postgres: include_str!("../migrations/0001_cart.postgres.sql"),
    },
    INBOX_MIGRATION,
];

/// Who this service is, to the chassis (logs, metrics, registration).
pub const INFO: ServiceInfo = ServiceInfo {
    name: "cart",
    version: env!("CARGO_PKG_VERSION"),
};

/// The service the cart asks for prices.
pub const CATALOG: &str = "catalog";

/// Command-line arguments of the cart: the chassis' own.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "brigade-cart",
    about = "Brigade's cart service: one cart per user, priced by the catalog",
    version
)]
pub struct Args {
    #[command(flatten)]
    pub service: ServiceArgs,
}

/// Runs the cart until it is asked to stop.
pub async fn main_with(args: Args) -> anyhow::Result<()> {
    service::run(INFO, args.service, build).await?;
    Ok(())
}

/// Everything a starting instance does before it serves: open and migrate the store, subscribe
/// to orders' events (every instance consumes; each event is applied once in the store they
/// share), get the token verifier and the catalog client, and build the routes. Public so that
/// tests can serve it on a listener of their own.
pub async fn build(mut ctx: Context) -> Result<axum::Router, BoxError> {
    let db = ctx.open_store(MIGRATIONS).await?;
    ctx.subscribe(&db, events::orders()).await?;
    let state = AppState {
        store: Store::new(db),
        catalog: CatalogClient::new(ctx.client(CATALOG)),
        verifier: ctx.verifier()?,
    };
    Ok(router(state))
}
