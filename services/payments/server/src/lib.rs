//! The payments service: a simulated card processor that behaves like a real one: idempotent
//! charges (at most one capture per idempotency key and per order), full refunds, and an
//! append-only ledger that an audit checks the charges against.
//!
//! - [`card`]: what a test card number makes the processor do, and what is kept of it;
//! - [`processor`]: charging, settling slow charges, refunding;
//! - [`store`]: charges and the ledger on SQLite or PostgreSQL, and the events their changes
//!   publish (`PaymentCaptured`, `PaymentFailed`, `PaymentRefunded`, defined in
//!   `payments_api::events`), written to the outbox in the change's transaction;
//! - [`http`]: the `/v1` routes and the OpenAPI document.
//!
//! The wire types and input rules are in `payments-api`, which callers depend on instead of this.
//!
//! **Architecture invariant:** the card number never leaves the request: the store keeps its last
//! four digits and a hash, and nothing logs a request body.

#![forbid(unsafe_code)]

pub mod card;
pub mod http;
pub mod processor;
pub mod store;

use std::time::Duration;

use brigade_chassis::db::Migration;
use brigade_chassis::events::OUTBOX_MIGRATION;
use brigade_chassis::service::{self, Context, ServiceArgs, ServiceInfo};
use brigade_chassis::BoxError;

pub use http::router;
pub use processor::Processor;
pub use store::Store;

/// The payments schema and the chassis' outbox (the events charges and refunds publish), applied
/// at start by the chassis under the store's write lock.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "payments",
        sqlite: include_str!("../migrations/0001_payments.sqlite.sql"),
        postgres: include_str!("../migrations/0001_payments.postgres.sql"),
    },
    OUTBOX_MIGRATION,
];

/// Who this service is, to the chassis (logs, metrics, registration).
pub const INFO: ServiceInfo = ServiceInfo {
    name: "payments",
    version: env!("CARGO_PKG_VERSION"),
};

/// Command-line arguments of payments: the chassis' own, plus its own.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "brigade-payments",
    about = "Brigade's payments service: a simulated card processor with idempotent charges, refunds and a ledger",
    version
)]
pub struct Args {
    #[command(flatten)]
    pub service: ServiceArgs,

    #[command(flatten)]
    pub settings: Settings,
}

/// The processor's own settings.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// How long the slow test card (4000000000000259) stays pending before it is captured.
    #[arg(
        long,
        env = "BRIGADE_PAYMENTS_SLOW_CARD_DELAY",
        default_value = "3s",
        value_parser = humantime::parse_duration
    )]
    pub slow_card_delay: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            slow_card_delay: Duration::from_secs(3),
        }
    }
}

/// Runs payments until it is asked to stop.
pub async fn main_with(args: Args) -> anyhow::Result<()> {
    let settings = args.settings;
    service::run(INFO, args.service, move |ctx| build(ctx, settings)).await?;
    Ok(())
}

/// Everything a starting instance does before it serves: open and migrate the store, start the
/// outbox relay (which publishes the payment events), start settling charges left pending by a
/// stopped instance, and build the routes. Safe when another instance does the same at the same
/// moment. Public so that tests can serve it themselves.
pub async fn build(mut ctx: Context, settings: Settings) -> Result<axum::Router, BoxError> {
    let db = ctx.open_store(MIGRATIONS).await?;
    let outbox = ctx.publish_events(&db).await?;
    let processor = Processor::new(Store::new(db, outbox), settings.slow_card_delay);
    tokio::spawn(processor.clone().recover_pending_charges());
    Ok(router(processor))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use super::Args;

    #[test]
    fn the_slow_card_delay_is_a_duration_flag() {
        let parse = |argv: &[&str]| {
            Args::try_parse_from(argv)
                .map(|a| a.settings.slow_card_delay)
                .ok()
        };
        assert_eq!(
            parse(&["brigade-payments", "--slow-card-delay", "250ms"]),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            parse(&["brigade-payments", "--slow-card-delay", "soon"]),
            None
        );
    }
}
