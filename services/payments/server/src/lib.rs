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
use brigade_chassis::service::{Context, Dependencies, Service};
use brigade_chassis::BoxError;

pub use http::router;
pub use processor::Processor;
pub use store::Store;

/// The payments schema and the chassis' outbox (the events charges and refunds publish), applied
/// at start by the chassis under the store's write lock.
pub const MIGRATIONS: &[Migration] = &[
    brigade_chassis::migration!(1, "payments", "../migrations/0001_payments"),
    OUTBOX_MIGRATION,
];

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

/// The payments service, to the chassis: `brigade_chassis::service::main::<Payments>()`.
#[derive(Debug)]
pub struct Payments;

impl Service for Payments {
    brigade_chassis::service_identity!(
        "payments",
        "Brigade's payments service: a simulated card processor with idempotent charges, refunds and a ledger"
    );
    const DEPENDS_ON: Dependencies = Dependencies {
        publishes: true,
        read_by: &["orders", "notifications"],
        ..Dependencies::NONE
    };
    const MIGRATIONS: &'static [Migration] = MIGRATIONS;
    type Args = Settings;

    /// Starts the outbox relay (which publishes the payment events), starts settling charges
    /// left pending by a stopped instance, and builds the routes. Safe when another instance
    /// does the same at the same moment.
    async fn build(mut ctx: Context, settings: Settings) -> Result<axum::Router, BoxError> {
        let db = ctx.store()?;
        let outbox = ctx.publish_events(&db).await?;
        let processor = Processor::new(Store::new(db, outbox), settings.slow_card_delay);
        processor.recover_pending_charges(ctx.background());
        Ok(router(processor))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use brigade_chassis::testing::own_args;

    use super::Payments;

    #[test]
    fn the_slow_card_delay_is_a_duration_flag() {
        let delay = |flags: &[&str]| own_args::<Payments>(flags).map(|a| a.slow_card_delay);
        assert_eq!(
            delay(&["--slow-card-delay", "250ms"]),
            Some(Duration::from_millis(250))
        );
        assert_eq!(delay(&["--slow-card-delay", "soon"]), None);
    }
}
