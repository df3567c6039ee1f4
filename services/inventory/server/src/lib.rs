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
use brigade_chassis::service::{self, Context, ServiceArgs, ServiceInfo};
use brigade_chassis::BoxError;

pub use http::router;
pub use store::Store;

/// The inventory's schema, the chassis' outbox (the `StockChanged` events it publishes) and inbox
/// (the `OrderCancelled` events it applies), applied at start by the chassis under the store's
/// write lock.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "inventory",
        sqlite: include_str!("../migrations/0001_inventory.sqlite.sql"),
        postgres: include_str!("../migrations/0001_inventory.postgres.sql"),
    },
    OUTBOX_MIGRATION,
    INBOX_MIGRATION,
];

/// Who this service is, to the chassis (logs, metrics, registration).
pub const INFO: ServiceInfo = ServiceInfo {
    name: "inventory",
    version: env!("CARGO_PKG_VERSION"),
};

/// Command-line arguments of the inventory: the chassis' own, plus the inventory's.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "brigade-inventory",
    about = "Brigade's inventory service: stock per SKU and reservations",
    version
)]
pub struct Args {
    #[command(flatten)]
    pub service: ServiceArgs,

    /// Do not stock the sample catalog's SKUs in an empty store (a store that has them keeps
    /// them). The variable takes true/false, 1/0, yes/no or on/off.
    #[arg(
        long,
        env = "BRIGADE_INVENTORY_NO_SEED",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub no_seed: bool,
}

/// Whether a starting instance makes sure the sample stock is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleData {
    Load,
    Skip,
}

/// Runs the inventory until it is asked to stop.
pub async fn main_with(args: Args) -> anyhow::Result<()> {
    let sample = if args.no_seed {
        SampleData::Skip
    } else {
        SampleData::Load
    };
    service::run(INFO, args.service, move |ctx| build(ctx, sample)).await?;
    Ok(())
}

/// Everything a starting instance does before it serves: open and migrate the store, start the
/// outbox relay (which publishes `StockChanged`), load the sample stock, subscribe to orders'
/// events, start the expiry sweep, and build the routes. Every step is safe when another
/// instance does the same at the same moment. Public so that tests can serve it on a listener
/// of their own.
pub async fn build(mut ctx: Context, sample: SampleData) -> Result<axum::Router, BoxError> {
    let db = ctx.open_store(MIGRATIONS).await?;
    let outbox = ctx.publish_events(&db).await?;
    if sample == SampleData::Load {
        seed::ensure_sample_stock(&db, &outbox).await?;
    }
    ctx.subscribe(&db, events::orders(outbox.clone())).await?;
    let store = Store::new(db, outbox);
    // Ends by itself when the chassis closes the store at shutdown.
    sweep::spawn(store.clone(), sweep::INTERVAL);
    Ok(router(store))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Args;

    #[test]
    fn no_seed_is_a_flag() {
        let parse = |argv: &[&str]| Args::try_parse_from(argv).map(|a| a.no_seed).ok();
        assert_eq!(parse(&["brigade-inventory"]), Some(false));
        assert_eq!(parse(&["brigade-inventory", "--no-seed"]), Some(true));
    }
}
