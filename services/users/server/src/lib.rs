//! The users service: accounts, password hashes (argon2id), signed access tokens and the JWKS.
//!
//! - [`store`]: accounts and signing keys on SQLite or PostgreSQL, and the event a sign-up
//!   publishes (`UserRegistered`, defined in `users_api::events`), written to the outbox in the
//!   sign-up's transaction.
//! - [`passwords`]: argon2id hashing on the blocking pool.
//! - [`keys`]: which key signs, which are published, verifying, rotating; [`rotation`] rotates
//!   on a schedule.
//! - [`http`]: the `/v1` routes and the OpenAPI document.
//!
//! The wire types and input rules are in `users-api`, which callers depend on instead of this.
//! Other services verify tokens themselves with the published keys (`brigade_chassis::auth`).

#![forbid(unsafe_code)]

pub mod app;
pub mod clock;
pub mod http;
pub mod keys;
pub mod passwords;
pub mod rotation;
pub mod store;

use std::time::Duration;

use brigade_chassis::db::Migration;
use brigade_chassis::events::OUTBOX_MIGRATION;
use brigade_chassis::service::{self, Context, ServiceArgs, ServiceInfo};
use brigade_chassis::BoxError;

pub use app::{App, Config};
pub use clock::Clock;
pub use http::router;
pub use store::Store;

/// The users service's schema and the chassis' outbox (the events sign-ups publish), applied at
/// start by the chassis under the store's write lock.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "users",
        sqlite: include_str!("../migrations/0001_users.sqlite.sql"),
        postgres: include_str!("../migrations/0001_users.postgres.sql"),
    },
    OUTBOX_MIGRATION,
];

/// Who this service is, to the chassis (logs, metrics, registration).
pub const INFO: ServiceInfo = ServiceInfo {
    name: "users",
    version: env!("CARGO_PKG_VERSION"),
};

/// Command-line arguments of the users service: the chassis' own, plus its own.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "brigade-users",
    about = "Brigade's users service: accounts, log-in, access tokens and their signing keys",
    version
)]
pub struct Args {
    #[command(flatten)]
    pub service: ServiceArgs,

    /// How long an access token lives, e.g. 15m.
    #[arg(long, env = "BRIGADE_USERS_TOKEN_TTL", default_value = "15m", value_parser = at_least_a_second)]
    pub token_ttl: Duration,

    /// How old the token signing key may get before it is rotated (retired keys stay published
    /// until their tokens have expired, so nobody is logged out), e.g. 24h.
    #[arg(long, env = "BRIGADE_USERS_KEY_ROTATION_INTERVAL", default_value = "24h", value_parser = at_least_a_second)]
    pub key_rotation_interval: Duration,
}

impl Args {
    /// The service's settings.
    pub fn config(&self) -> Config {
        Config {
            token_ttl: self.token_ttl,
            key_rotation_interval: self.key_rotation_interval,
            ..Config::default()
        }
    }
}

/// A duration of at least a second: tokens count their lifetime in seconds, and a rotation
/// interval of less would have instances do nothing but rotate.
fn at_least_a_second(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if duration < Duration::from_secs(1) {
        return Err(format!("must be at least 1s, got {text}"));
    }
    Ok(duration)
}

/// Runs the users service until it is asked to stop.
pub async fn main_with(args: Args) -> anyhow::Result<()> {
    let config = args.config();
    service::run(INFO, args.service, move |ctx| build(ctx, config)).await?;
    Ok(())
}

/// Everything a starting instance does before it serves: open and migrate the store, start the
/// outbox relay (which publishes `UserRegistered`), make sure a signing key exists, start the
/// rotation task, and build the routes. Every step is safe when another instance does the same
/// at the same moment. Public so that tests can serve it on a listener of their own.
pub async fn build(mut ctx: Context, config: Config) -> Result<axum::Router, BoxError> {
    let db = ctx.open_store(MIGRATIONS).await?;
    let outbox = ctx.publish_events(&db).await?;
    let app = App::start(db, outbox, &config, Clock::system()).await?;
    Ok(router(app))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use super::Args;

    #[test]
    fn durations_have_defaults_and_a_floor() {
        let args = Args::try_parse_from(["brigade-users"]).unwrap();
        assert_eq!(args.token_ttl, Duration::from_secs(15 * 60));
        assert_eq!(args.key_rotation_interval, Duration::from_secs(24 * 3600));
        let args = Args::try_parse_from([
            "brigade-users",
            "--token-ttl",
            "1h",
            "--key-rotation-interval",
            "7days",
        ])
        .unwrap();
        assert_eq!(args.config().token_ttl, Duration::from_secs(3600));
        assert_eq!(
            args.config().key_rotation_interval,
            Duration::from_secs(7 * 24 * 3600)
        );
        assert!(Args::try_parse_from(["brigade-users", "--token-ttl", "10ms"]).is_err());
        assert!(Args::try_parse_from(["brigade-users", "--key-rotation-interval", "0s"]).is_err());
    }
}
