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
pub mod sealing;
pub mod store;

use std::path::PathBuf;
use std::time::Duration;

use brigade_chassis::db::{Backend, Migration};
use brigade_chassis::events::OUTBOX_MIGRATION;
use brigade_chassis::service::{duration_within, Context, Dependencies, Service};
use brigade_chassis::BoxError;

pub use app::{App, Config};
pub use clock::Clock;
pub use http::router;
use sealing::{KeyEncryptionKey, Sealing};
pub use store::Store;

/// The users service's schema and the chassis' outbox (the events sign-ups publish), applied at
/// start by the chassis under the store's write lock.
pub const MIGRATIONS: &[Migration] = &[
    brigade_chassis::migration!(1, "users", "../migrations/0001_users"),
    OUTBOX_MIGRATION,
];

/// The users service's own flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// How long an access token lives, e.g. 15m.
    #[arg(long, env = "BRIGADE_USERS_TOKEN_TTL", default_value = "15m", value_parser = at_least_a_second)]
    pub token_ttl: Duration,

    /// How old the token signing key may get before it is rotated (retired keys stay published
    /// until their tokens have expired, so nobody is logged out), e.g. 24h.
    #[arg(long, env = "BRIGADE_USERS_KEY_ROTATION_INTERVAL", default_value = "24h", value_parser = at_least_a_second)]
    pub key_rotation_interval: Duration,

    /// The key that encrypts the token signing keys at rest: 32 random bytes in base64
    /// (`openssl rand -base64 32`). Prefer --key-encryption-key-file: an environment can leak
    /// into a process listing or a crash report. Required with a PostgreSQL store.
    #[arg(long, env = "BRIGADE_USERS_KEY_ENCRYPTION_KEY", hide_env_values = true, value_parser = KeyEncryptionKey::parse)]
    pub key_encryption_key: Option<KeyEncryptionKey>,

    /// A file holding the key-encryption key (base64, as --key-encryption-key takes it): a
    /// mounted secret on a cluster; `brigade up` writes one into its data directory (mode 0600).
    #[arg(
        long,
        env = "BRIGADE_USERS_KEY_ENCRYPTION_KEY_FILE",
        conflicts_with = "key_encryption_key"
    )]
    pub key_encryption_key_file: Option<PathBuf>,
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

    /// How the signing keys are kept at rest on a store of `backend`: sealed with the given key;
    /// in clear, said in a warning, only on SQLite (a development store). A PostgreSQL store is
    /// what production runs on, so there a missing key is a refusal to start.
    pub fn sealing(&self, backend: Backend) -> Result<Sealing, String> {
        let key = match (&self.key_encryption_key, &self.key_encryption_key_file) {
            (Some(key), _) => Some(key.clone()),
            (None, Some(path)) => Some(KeyEncryptionKey::read_file(path)?),
            (None, None) => None,
        };
        match (key, backend) {
            (Some(key), _) => Ok(Sealing::Sealed(key)),
            (None, Backend::Postgres) => Err(
                "refusing to start: a PostgreSQL store is a production store, and its signing \
                 keys must be encrypted at rest; give --key-encryption-key-file (or \
                 BRIGADE_USERS_KEY_ENCRYPTION_KEY) with 32 random bytes in base64 \
                 (openssl rand -base64 32)"
                    .to_owned(),
            ),
            (None, Backend::Sqlite) => {
                tracing::warn!(
                    "no --key-encryption-key-file: the token signing keys are stored in clear; \
                     fine for development, never for production"
                );
                Ok(Sealing::Clear)
            }
        }
    }
}

/// A duration of at least a second: tokens count their lifetime in seconds, and a rotation
/// interval of less would have instances do nothing but rotate.
fn at_least_a_second(text: &str) -> Result<Duration, String> {
    duration_within(text, Duration::from_secs(1)..)
}

/// The users service, to the chassis: `brigade_chassis::service::main::<Users>()`.
#[derive(Debug)]
pub struct Users;

impl Service for Users {
    brigade_chassis::service_identity!(
        "users",
        "Brigade's users service: accounts, log-in, access tokens and their signing keys"
    );
    const DEPENDS_ON: Dependencies = Dependencies {
        publishes: true,
        read_by: &["notifications"],
        ..Dependencies::NONE
    };
    const MIGRATIONS: &'static [Migration] = MIGRATIONS;
    type Args = Args;

    /// Starts the outbox relay (which publishes `UserRegistered`), makes sure a signing key
    /// exists, starts the rotation task, and builds the routes. Every step is safe when another
    /// instance does the same at the same moment.
    async fn build(mut ctx: Context, args: Args) -> Result<axum::Router, BoxError> {
        let db = ctx.store()?;
        let config = Config {
            sealing: args.sealing(db.backend())?,
            ..args.config()
        };
        let outbox = ctx.publish_events(&db).await?;
        let app = App::start(db, outbox, &config, Clock::system()).await?;
        rotation::start(
            ctx.background(),
            app.keys.clone(),
            config.key_rotation_interval,
        );
        Ok(router(app))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use brigade_chassis::testing::own_args;

    use super::Users;

    #[test]
    fn durations_have_defaults_and_a_floor() {
        let args = own_args::<Users>(&[]).unwrap();
        assert_eq!(args.token_ttl, Duration::from_secs(15 * 60));
        assert_eq!(args.key_rotation_interval, Duration::from_secs(24 * 3600));
        let args =
            own_args::<Users>(&["--token-ttl", "1h", "--key-rotation-interval", "7days"]).unwrap();
        assert_eq!(args.config().token_ttl, Duration::from_secs(3600));
        assert_eq!(
            args.config().key_rotation_interval,
            Duration::from_secs(7 * 24 * 3600)
        );
        assert!(own_args::<Users>(&["--token-ttl", "10ms"]).is_none());
        assert!(own_args::<Users>(&["--key-rotation-interval", "0s"]).is_none());
    }
}
