//! The shipping service: quotes, and one shipment per confirmed order that has a destination.
//!
//! - [`rates`]: the documented rules a quote follows (zone by country, base price plus a price
//!   per further kilogram, days to delivery), pure and deterministic;
//! - [`events`]: orders' `OrderConfirmed` makes the order's shipment, which announces itself
//!   (`ShipmentCreated`, defined in `shipping_api::events`) through the outbox in the same
//!   transaction;
//! - [`store`]: shipments on SQLite or PostgreSQL;
//! - [`http`]: the `/v1` routes and the OpenAPI document.
//!
//! The wire types, input rules and typed client are in `shipping-api`, which callers depend on
//! instead of this.

#![forbid(unsafe_code)]

pub mod events;
pub mod http;
pub mod rates;
pub mod store;

use brigade_chassis::db::Migration;
use brigade_chassis::events::{INBOX_MIGRATION, OUTBOX_MIGRATION};
use brigade_chassis::service::{Context, Dependencies, Service};
use brigade_chassis::BoxError;

pub use http::router;
pub use store::Store;

/// The shipments, the chassis' outbox (the `ShipmentCreated` events) and inbox (the
/// `OrderConfirmed` events applied), applied at start by the chassis under the store's write
/// lock.
pub const MIGRATIONS: &[Migration] = &[
    brigade_chassis::migration!(1, "shipping", "../migrations/0001_shipping"),
    OUTBOX_MIGRATION,
    INBOX_MIGRATION,
];

/// The shipping service, to the chassis: `brigade_chassis::service::main::<Shipping>()`.
#[derive(Debug)]
pub struct Shipping;

impl Service for Shipping {
    brigade_chassis::service_identity!(
        "shipping",
        "Brigade's shipping service: quotes and a shipment per confirmed order"
    );
    const DEPENDS_ON: Dependencies = Dependencies {
        consumes: &["orders"],
        publishes: true,
        read_by: &["orders", "notifications"],
        ..Dependencies::NONE
    };
    const MIGRATIONS: &'static [Migration] = MIGRATIONS;
    /// The service has no flags of its own.
    type Args = brigade_chassis::service::NoArgs;

    /// Starts the outbox relay (which publishes `ShipmentCreated`), subscribes to orders'
    /// events (every instance consumes; each event is applied once in the store they share),
    /// and builds the routes.
    async fn build(mut ctx: Context, _args: Self::Args) -> Result<axum::Router, BoxError> {
        let db = ctx.store()?;
        let outbox = ctx.publish_events(&db).await?;
        ctx.subscribe(&db, events::orders(outbox.clone())).await?;
        Ok(router(Store { db, outbox }))
    }
}
