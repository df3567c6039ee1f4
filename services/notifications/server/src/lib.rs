//! The notifications service: each shopper's mailbox, written from the other services' events,
//! and sent by email when an SMTP server is configured.
//!
//! - [`events`]: users' `UserRegistered`, orders' `OrderConfirmed` and `OrderCancelled`,
//!   payments' `PaymentRefunded`; each order or refund becomes one message;
//! - [`compose`]: what each message says, rendered by askama templates checked at compile time;
//! - [`store`]: the mailbox on SQLite or PostgreSQL;
//! - [`delivery`]: the periodic SMTP sender (pending → sent, retried with backoff);
//! - [`http`]: the `/v1` routes (a shopper's own messages) and the OpenAPI document.
//!
//! The wire types and input rules are in `notifications-api`, which callers depend on instead.

#![forbid(unsafe_code)]

pub mod compose;
pub mod delivery;
pub mod events;
pub mod http;
pub mod store;

use std::time::Duration;

use brigade_chassis::db::Migration;
use brigade_chassis::events::INBOX_MIGRATION;
use brigade_chassis::service::{Context, Dependencies, Service};
use brigade_chassis::BoxError;
use lettre::message::Mailbox;
use notifications_api::Delivery;

pub use http::{router, AppState};
pub use store::Store;

/// The mailbox's schema and the chassis' inbox (which events were applied, which parked),
/// applied at start by the chassis under the store's write lock.
pub const MIGRATIONS: &[Migration] = &[
    brigade_chassis::migration!(1, "notifications", "../migrations/0001_notifications"),
    INBOX_MIGRATION,
];

/// How messages leave: by email through an SMTP server, or not at all (the mailbox is the
/// delivery).
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// The SMTP server that sends the messages by email: `smtp://host:port` (plain text, for a
    /// relay on the same machine), `smtp://host:port?tls=required` (STARTTLS) or `smtps://host`
    /// (TLS), with `user:password@` before the host to log in. Without it no email is sent and
    /// messages are only `stored`.
    #[arg(long, env = "BRIGADE_NOTIFICATIONS_SMTP_URL", value_parser = delivery::smtp_url)]
    pub smtp_url: Option<String>,
    /// The sender of every email.
    #[arg(
        long,
        env = "BRIGADE_NOTIFICATIONS_SMTP_FROM",
        default_value = "Brigade <shop@brigade.invalid>"
    )]
    pub smtp_from: Mailbox,
    /// How often each instance looks for messages to send.
    #[arg(
        long,
        env = "BRIGADE_NOTIFICATIONS_DELIVERY_INTERVAL",
        default_value = "1s",
        value_parser = delivery::interval
    )]
    pub delivery_interval: Duration,
}

/// The notifications service, to the chassis: `brigade_chassis::service::main::<Notifications>()`.
#[derive(Debug)]
pub struct Notifications;

impl Service for Notifications {
    brigade_chassis::service_identity!(
        "notifications",
        "Brigade's notifications service: each shopper's messages, from the other services' events, sent by email when configured"
    );
    // Users: the keys that verify shoppers' access tokens.
    const DEPENDS_ON: Dependencies = Dependencies {
        calls: &["users"],
        consumes: &["users", "orders", "payments", "shipping"],
        ..Dependencies::NONE
    };
    const MIGRATIONS: &'static [Migration] = MIGRATIONS;
    type Args = Settings;

    /// Subscribes to users', orders' and payments' events (every instance consumes; each event
    /// is applied once in the store they share), starts the SMTP sender when one is configured,
    /// and builds the routes.
    async fn build(mut ctx: Context, settings: Settings) -> Result<axum::Router, BoxError> {
        let db = ctx.store()?;
        let store = Store::new(db.clone());
        let delivery = match &settings.smtp_url {
            Some(url) => {
                let sender = delivery::Sender::new(store.clone(), url, settings.smtp_from)?;
                ctx.background().spawn_periodic(
                    "smtp-delivery",
                    settings.delivery_interval,
                    move || {
                        let sender = sender.clone();
                        async move { sender.pass().await }
                    },
                );
                Delivery::Pending
            }
            None => Delivery::Stored,
        };
        let write = events::Write { delivery };
        ctx.subscribe(&db, events::users(write)).await?;
        ctx.subscribe(&db, events::orders(write)).await?;
        ctx.subscribe(&db, events::payments(write)).await?;
        ctx.subscribe(&db, events::shipping(write)).await?;
        Ok(router(AppState {
            store,
            verifier: ctx.verifier()?,
        }))
    }
}
