//! The inventory service: stock per SKU and reservations (reserve all lines or none, idempotent
//! by order id, with a time-to-live; commit; release; expiry).
//!
//! - [`store`]: the stock and reservations on SQLite or PostgreSQL, and the promise they keep:
//!   for every SKU, `held + committed <= stock`; every change of a SKU's counters is announced
//!   (`StockChanged`, defined in `inventory_api::events`) through the outbox in its transaction.
//! - [`events`]: what the inventory reacts to: orders' `OrderCancelled` releases the order's
//!   reservation if it is still held.
//! - [`sweep`]: the background task that expires reservations past their time.
//! - [`seed`]: stock for the sample catalog, loaded once however many instances start.
//! - [`http`]: the `/v1` routes and the OpenAPI document.
//!
//! The wire types, input rules and problem types are in `inventory-api`, which callers depend
//! on instead of this.
//!
//! **Architecture invariant:** handlers never build SQL and the store never sees HTTP: input is
//! validated at the edge with `inventory_api`'s rules, and store outcomes become problems only
//! in [`http`].

#![forbid(unsafe_code)]

pub mod events;
pub mod http;
pub mod seed;
pub mod store;
pub mod sweep;

use brigade_chassis::db::Migration;
use brigade_chassis::events::{INBOX_MIGRATION, OUTBOX_MIGRATION};
use brigade_chassis::service::{Context, Dependencies, SeedArgs, Seeded, Service};
use brigade_chassis::BoxError;

pub use brigade_chassis::service::SampleData;
pub use http::router;
pub use store::Store;

/// The inventory's schema, the chassis' outbox (the `StockChanged` events it publishes) and inbox
/// (the `OrderCancelled` events it applies), applied at start by the chassis under the store's
/// write lock.
pub const MIGRATIONS: &[Migration] = &[
    brigade_chassis::migration!(1, "inventory", "../migrations/0001_inventory"),
    OUTBOX_MIGRATION,
    INBOX_MIGRATION,
];

/// The inventory service, to the chassis: `brigade_chassis::service::main::<Inventory>()`.
#[derive(Debug)]
pub struct Inventory;

impl Seeded for Inventory {
    const NO_SEED_ENV: &'static str = "BRIGADE_INVENTORY_NO_SEED";
    const NO_SEED_HELP: &'static str = "Do not stock the sample catalog's SKUs in an empty \
        store (a store that has them keeps them). The variable takes true/false, 1/0, yes/no \
        or on/off";
}

impl Service for Inventory {
    brigade_chassis::service_identity!(
        "inventory",
        "Brigade's inventory service: stock per SKU and reservations"
    );
    const DEPENDS_ON: Dependencies = Dependencies {
        consumes: &["orders"],
        publishes: true,
        read_by: &[],
        ..Dependencies::NONE
    };
    const MIGRATIONS: &'static [Migration] = MIGRATIONS;
    type Args = SeedArgs<Inventory>;

    /// Starts the outbox relay (which publishes `StockChanged`), loads the sample stock unless
    /// told not to, subscribes to orders' events, starts the expiry sweep, and builds the
    /// routes. Every step is safe when another instance does the same at the same moment.
    async fn build(mut ctx: Context, args: SeedArgs<Inventory>) -> Result<axum::Router, BoxError> {
        let db = ctx.store()?;
        let outbox = ctx.publish_events(&db).await?;
        if args.sample == SampleData::Load {
            seed::ensure_sample_stock(&db, &outbox).await?;
        }
        ctx.subscribe(&db, events::orders(outbox.clone())).await?;
        let store = Store::new(db, outbox);
        sweep::start(ctx.background(), store.clone(), sweep::INTERVAL);
        Ok(router(store))
    }
}
