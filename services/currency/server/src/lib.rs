//! The currency service: the currencies a shopper may pay in, and conversion between them from
//! reference rates the service owns.
//!
//! - [`sample`]: the sample table compiled into the service (about 30 ISO 4217 currencies with
//!   their names, minor-unit exponents and euro reference rates), loaded at first start; its
//!   currencies are also the ones a replacing table may list;
//! - [`store`]: the table in force on SQLite or PostgreSQL, replaced whole in one transaction;
//! - [`http`]: the `/v1` routes and the OpenAPI document.
//!
//! The wire types, input rules, the arithmetic of converting (`currency_api::conversion`, exact
//! in integers, rounded half to even: shared with callers that convert locally) and the typed
//! client are in `currency-api`, which callers depend on
//! instead of this.
//!
//! **Architecture invariant:** no amount of money is ever a float. Rates are integers of 10⁻⁸
//! units, amounts integers of minor units, and a conversion is one exact division, rounded once.

#![forbid(unsafe_code)]

pub mod http;
pub mod sample;
pub mod store;

use std::sync::Arc;

use brigade_chassis::db::Migration;
use brigade_chassis::service::{Context, Dependencies, Service};
use brigade_chassis::service_identity;
use brigade_chassis::BoxError;

pub use http::{router, App};
pub use store::Store;

/// The table of rates, applied at start by the chassis under the store's write lock.
pub const MIGRATIONS: &[Migration] = &[brigade_chassis::migration!(
    1,
    "currency",
    "../migrations/0001_currency"
)];

/// The currency service, to the chassis: `brigade_chassis::service::main::<Currency>()`.
#[derive(Debug)]
pub struct Currency;

impl Service for Currency {
    service_identity!(
        "currency",
        "Brigade's currency service: currencies and conversion"
    );
    const DEPENDS_ON: Dependencies = Dependencies::NONE;
    const MIGRATIONS: &'static [Migration] = MIGRATIONS;
    /// The service has no flags of its own: a store without rates always gets the sample table,
    /// since the service cannot answer anything without one.
    type Args = brigade_chassis::service::NoArgs;

    /// Loads the sample table into a store that has no rates (safe when another instance does
    /// the same at the same moment), and builds the routes.
    async fn build(ctx: Context, _args: Self::Args) -> Result<axum::Router, BoxError> {
        let sample = Arc::new(sample::table()?);
        let store = Store { db: ctx.store()? };
        store.ensure_sample(&sample).await?;
        Ok(router(App { store, sample }))
    }
}
