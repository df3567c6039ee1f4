//! The recommendations service: "bought together" and "for you" products, from a co-purchase
//! and popularity model built from other services' events.
//!
//! - [`events`]: the subscriptions to orders' `OrderConfirmed` and the catalog's
//!   `ProductChanged`, which are the model's only writers;
//! - [`store`]: the model on SQLite or PostgreSQL, and the ranking;
//! - [`http`]: the `/v1` routes and the OpenAPI document.
//!
//! The wire types, input rules and typed client are in `recommendations-api`, which callers
//! depend on instead of this.
//!
//! **Architecture invariant:** the service calls no other service while answering. Everything
//! it shows (names, prices, images) is what the catalog last announced, kept in its own store,
//! so that a product page's recommendations cost one hop and work while the catalog is down.
//! Recommendations are optional to every caller: a caller answers without them when this
//! service is down, slow or failing.

#![forbid(unsafe_code)]

pub mod events;
pub mod http;
pub mod store;

use brigade_chassis::db::Migration;
use brigade_chassis::events::INBOX_MIGRATION;
use brigade_chassis::service::{Context, Dependencies, Service};
use brigade_chassis::BoxError;

pub use http::router;
pub use store::Store;

/// The model's schema and the chassis' inbox (what was applied, what was parked), applied at
/// start by the chassis under the store's write lock.
pub const MIGRATIONS: &[Migration] = &[
    brigade_chassis::migration!(1, "recommendations", "../migrations/0001_recommendations"),
    INBOX_MIGRATION,
];

/// The recommendations service, to the chassis:
/// `brigade_chassis::service::main::<Recommendations>()`.
#[derive(Debug)]
pub struct Recommendations;

impl Service for Recommendations {
    brigade_chassis::service_identity!(
        "recommendations",
        "Brigade's recommendations service: bought-together and popular products"
    );
    const DEPENDS_ON: Dependencies = Dependencies {
        consumes: &["orders", "catalog"],
        ..Dependencies::NONE
    };
    const MIGRATIONS: &'static [Migration] = MIGRATIONS;
    /// The service has no flags of its own.
    type Args = brigade_chassis::service::NoArgs;

    /// Subscribes to the orders' and the catalog's events (every instance consumes; each event
    /// is applied once in the store they share), and builds the routes.
    async fn build(mut ctx: Context, _args: Self::Args) -> Result<axum::Router, BoxError> {
        let db = ctx.store()?;
        ctx.subscribe(&db, events::orders()).await?;
        ctx.subscribe(&db, events::catalog()).await?;
        Ok(router(Store::new(db)))
    }
}
