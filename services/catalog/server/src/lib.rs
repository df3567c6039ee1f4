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
use brigade_chassis::service::{Context, Dependencies, SeedArgs, Seeded, Service};
use brigade_chassis::BoxError;

pub use brigade_chassis::service::SampleData;
pub use http::router;
pub use store::Store;

/// The catalog's schema and the chassis' outbox (the events loading products publishes), applied
/// at start by the chassis under the store's write lock.
pub const MIGRATIONS: &[Migration] = &[
    brigade_chassis::migration!(1, "catalog", "../migrations/0001_catalog"),
    OUTBOX_MIGRATION,
];

/// The catalog service, to the chassis: `brigade_chassis::service::main::<Catalog>()`.
#[derive(Debug)]
pub struct Catalog;

impl Seeded for Catalog {
    const NO_SEED_ENV: &'static str = "BRIGADE_CATALOG_NO_SEED";
    const NO_SEED_HELP: &'static str = "Do not load the sample catalog into an empty store (a \
        store that has it keeps it). The variable takes true/false, 1/0, yes/no or on/off";
}

impl Service for Catalog {
    brigade_chassis::service_identity!(
        "catalog",
        "Brigade's catalog service: products, categories and prices, with search"
    );
    const DEPENDS_ON: Dependencies = Dependencies {
        publishes: true,
        read_by: &["recommendations"],
        ..Dependencies::NONE
    };
    const MIGRATIONS: &'static [Migration] = MIGRATIONS;
    type Args = SeedArgs<Catalog>;

    /// Starts the outbox relay (which publishes `ProductChanged`), loads the sample data unless
    /// told not to, and builds the routes. Every step is safe when another instance does the
    /// same at the same moment.
    async fn build(mut ctx: Context, args: SeedArgs<Catalog>) -> Result<axum::Router, BoxError> {
        let db = ctx.store()?;
        let outbox = ctx.publish_events(&db).await?;
        if args.sample == SampleData::Load {
            seed::ensure_sample_catalog(&db, &outbox).await?;
        }
        Ok(router(Store::new(db)))
    }
}
