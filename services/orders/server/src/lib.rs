//! The orders service: orders and the checkout saga: reserve, charge, commit — or compensate.
//!
//! - [`store`]: orders, saga state and history, idempotency keys, on SQLite or PostgreSQL, and
//!   the events the saga publishes (`OrderPlaced`, `OrderConfirmed`, `OrderCancelled`, defined
//!   in `orders_api::events`), written to the outbox in the transaction of the step they announce;
//! - [`saga`]: the saga's state machine, its port to other services ([`saga::Steps`]) and the
//!   recovery loop that resumes unfinished sagas in every instance;
//! - [`shipping`]: the shipping quoted for a checkout's address, added to the total;
//! - [`currency`]: the total converted for a checkout paid in another currency than the
//!   catalog's (the currency service is needed only then);
//! - [`remote`]: the port implemented with the cart, catalog, inventory, payments, shipping and
//!   currency clients;
//! - [`pricing`]: a cart priced by the catalog;
//! - [`events`]: what orders consumes: payments' `PaymentRefunded` and shipping's
//!   `ShipmentCreated`, recorded in the order's history;
//! - [`http`]: the `/v1` routes and the OpenAPI document.
//!
//! The wire types and input rules are in `orders-api`, which callers depend on instead of this.

#![forbid(unsafe_code)]

pub mod currency;
pub mod events;
pub mod http;
pub mod pricing;
pub mod remote;
pub mod saga;
pub mod shipping;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use brigade_chassis::db::Migration;
use brigade_chassis::events::{INBOX_MIGRATION, OUTBOX_MIGRATION};
use brigade_chassis::service::{Context, Dependencies, Service};
use brigade_chassis::BoxError;

pub use http::{router, AppState};
pub use saga::{Checkpoint, Saga, SagaConfig};
pub use store::Store;

/// The orders schema (with each order's shipping since 2, its currency conversion since 3, and
/// the cart version it was priced from since 4), the chassis' outbox (the events the saga
/// publishes) and inbox (the refunds and shipments it records), applied at start by the chassis
/// under the store's write lock.
pub const MIGRATIONS: &[Migration] = &[
    brigade_chassis::migration!(1, "orders", "../migrations/0001_orders"),
    brigade_chassis::migration!(2, "shipping", "../migrations/0002_shipping"),
    brigade_chassis::migration!(3, "currency", "../migrations/0003_currency"),
    brigade_chassis::migration!(4, "cart_version", "../migrations/0004_cart_version"),
    OUTBOX_MIGRATION,
    INBOX_MIGRATION,
];

/// The saga's timing knobs and its test-only fault hook.
#[derive(Debug, Clone, clap::Args)]
pub struct SagaArgs {
    /// How often each instance looks for unfinished sagas whose lease has lapsed.
    #[arg(long, env = "BRIGADE_ORDERS_RECOVERY_INTERVAL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub recovery_interval: Duration,

    /// How long an instance's lease on a saga lasts without renewal (a crashed instance's
    /// sagas are resumed elsewhere after this).
    #[arg(long, env = "BRIGADE_ORDERS_SAGA_LEASE", default_value = "15s", value_parser = humantime::parse_duration)]
    pub saga_lease: Duration,

    /// The most charge attempts with an unknown outcome before the payment counts as failed.
    #[arg(long, env = "BRIGADE_ORDERS_PAYMENT_ATTEMPTS", default_value_t = 5)]
    pub payment_attempts: u32,

    /// The longest time from the first charge attempt before the payment counts as failed.
    #[arg(long, env = "BRIGADE_ORDERS_PAYMENT_RETRY_FOR", default_value = "2m", value_parser = humantime::parse_duration)]
    pub payment_retry_for: Duration,

    /// The first wait before repeating a call whose outcome was unknown (doubled each time).
    #[arg(long, env = "BRIGADE_ORDERS_RETRY_BACKOFF", default_value = "250ms", value_parser = humantime::parse_duration)]
    pub retry_backoff: Duration,

    /// The longest wait between repeats of a call.
    #[arg(long, env = "BRIGADE_ORDERS_MAX_RETRY_BACKOFF", default_value = "5s", value_parser = humantime::parse_duration)]
    pub max_retry_backoff: Duration,

    /// How much of a checkout's deadline is kept for answering after waiting for the saga.
    #[arg(long, env = "BRIGADE_ORDERS_ANSWER_MARGIN", default_value = "500ms", value_parser = humantime::parse_duration)]
    pub answer_margin: Duration,

    /// TEST ONLY: exit abruptly (status 137) right after persisting this saga step, so that
    /// end-to-end tests can prove that sagas resume from every state. Off unless given.
    #[arg(long, env = "BRIGADE_ORDERS_CRASH_AFTER_STEP", value_enum)]
    pub crash_after_step: Option<Checkpoint>,
}

impl SagaArgs {
    pub fn config(&self) -> SagaConfig {
        SagaConfig {
            lease: self.saga_lease,
            payment_attempts: self.payment_attempts,
            payment_retry_for: self.payment_retry_for,
            backoff: self.retry_backoff,
            max_backoff: self.max_retry_backoff,
            crash_after: self.crash_after_step,
        }
    }
}

/// The orders service, to the chassis: `brigade_chassis::service::main::<Orders>()`.
#[derive(Debug)]
pub struct Orders;

impl Service for Orders {
    brigade_chassis::service_identity!(
        "orders",
        "Brigade's orders service: orders and the checkout saga"
    );
    // Users: the keys that verify shoppers' access tokens.
    const DEPENDS_ON: Dependencies = Dependencies {
        calls: &[
            "cart",
            "catalog",
            "inventory",
            "payments",
            "shipping",
            "currency",
            "users",
        ],
        consumes: &["payments", "shipping"],
        publishes: true,
        read_by: &[
            "cart",
            "inventory",
            "notifications",
            "recommendations",
            "shipping",
        ],
    };
    const MIGRATIONS: &'static [Migration] = MIGRATIONS;
    type Args = SagaArgs;

    /// Starts the outbox relay (which publishes the saga's events), subscribes to payments'
    /// refunds and shipping's shipments, starts the recovery loop (which resumes unfinished sagas at once), and builds
    /// the routes.
    async fn build(mut ctx: Context, args: SagaArgs) -> Result<axum::Router, BoxError> {
        let db = ctx.store()?;
        let outbox = ctx.publish_events(&db).await?;
        ctx.subscribe(&db, events::payments()).await?;
        ctx.subscribe(&db, events::shipping()).await?;
        let verifier = ctx.verifier()?;
        let steps = Arc::new(remote::RemoteSteps::new(&ctx)?);
        let saga = Saga::new(
            Store::new(db, outbox),
            steps,
            ctx.instance_id(),
            args.config(),
        );
        saga::recovery::start(ctx.background(), saga.clone(), args.recovery_interval);
        Ok(router(AppState {
            saga,
            verifier,
            answer_margin: args.answer_margin,
        }))
    }
}

#[cfg(test)]
mod tests {
    use brigade_chassis::testing::own_args;

    use super::{Checkpoint, Orders};

    #[test]
    fn the_crash_hook_is_off_unless_given() {
        let crash = |flags: &[&str]| own_args::<Orders>(flags).map(|a| a.crash_after_step);
        assert_eq!(crash(&[]), Some(None));
        assert_eq!(
            crash(&["--crash-after-step", "charged"]),
            Some(Some(Checkpoint::Charged))
        );
        assert_eq!(crash(&["--crash-after-step", "nonsense"]), None);
    }
}
