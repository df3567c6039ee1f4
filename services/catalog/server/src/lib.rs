//! The catalog service: products, categories and prices, with full-text search.
//!
//! - [`store`]: reading the catalog from SQLite or PostgreSQL (per-dialect SQL in one place).
//! - [`seed`]: the deterministic sample catalog, loaded once however many instances start; each
//!   product it creates is announced (`ProductChanged`, defined in `catalog_api::events`) through
//!   the outbox in the loading transaction.
//! - [`http`]: the `/v1` routes and the OpenAPI document.
//!
//! The wire types and input rules are in `catalog-api`, which callers depend on instead of this.
//!
//! **Architecture invariant:** handlers never build SQL and the store never sees HTTP: input is
//! validated into `catalog_api::ProductQuery` at the edge, and store errors become problems only
//! in [`http`].

#![forbid(unsafe_code)]

pub mod http;
pub mod seed;
pub mod store;

use brigade_chassis::db::Migration;
use brigade_chassis::events::OUTBOX_MIGRATION;
use brigade_chassis::service::{self, Context, ServiceArgs, ServiceInfo};
use brigade_chassis::BoxError;

pub use http::router;
pub use store::Store;

/// The catalog's schema and the chassis' outbox (the events loading products publishes), applied
/// at start by the chassis under the store's write lock.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "catalog",
        sqlite: include_str!("../migrations/0001_catalog.sqlite.sql"),
        postgres: include_str!("../migrations/0001_catalog.postgres.sql"),
    },
    OUTBOX_MIGRATION,
];

/// Who this service is, to the chassis (logs, metrics, registration).
pub const INFO: ServiceInfo = ServiceInfo {
    name: "catalog",
    version: env!("CARGO_PKG_VERSION"),
};

/// Command-line arguments of the catalog: the chassis' own, plus the catalog's.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "brigade-catalog",
    about = "Brigade's catalog service: products, categories and prices, with search",
    version
)]
pub struct Args {
    #[command(flatten)]
    pub service: ServiceArgs,

    /// Do not load the sample catalog into an empty store (a store that has it keeps it).
    /// The variable takes true/false, 1/0, yes/no or on/off.
    #[arg(
        long,
        env = "BRIGADE_CATALOG_NO_SEED",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub no_seed: bool,
}

/// Whether a starting instance makes sure the sample catalog is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleData {
    Load,
    Skip,
}

/// Runs the catalog until it is asked to stop.
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
/// outbox relay (which publishes `ProductChanged`), load the sample data, and build the routes.
/// Every step is safe when another instance does the same at the same moment. Public so that
/// tests can serve it on a listener of their own.
pub async fn build(mut ctx: Context, sample: SampleData) -> Result<axum::Router, BoxError> {
    let db = ctx.open_store(MIGRATIONS).await?;
    let outbox = ctx.publish_events(&db).await?;
    if sample == SampleData::Load {
        seed::ensure_sample_catalog(&db, &outbox).await?;
    }
    Ok(router(Store::new(db)))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Args;

    #[test]
    fn no_seed_is_a_flag() {
        let parse = |argv: &[&str]| Args::try_parse_from(argv).map(|a| a.no_seed).ok();
        assert_eq!(parse(&["brigade-catalog"]), Some(false));
        assert_eq!(parse(&["brigade-catalog", "--no-seed"]), Some(true));
    }
}
