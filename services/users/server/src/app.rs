//! Everything a running instance holds: the store, the password hasher and the signing keys. The
//! routes in [`crate::http`] share one [`App`]; the key rotation runs beside them as a
//! background task of the instance ([`crate::rotation`]).

use std::time::Duration;

use brigade_chassis::db::Db;
use brigade_chassis::events::Outbox;

use crate::clock::Clock;
use crate::keys::{self, KeyRing};
use crate::passwords::Passwords;
use crate::sealing::Sealing;
use crate::store::Store;

/// The service's settings (from flags or environment, see [`crate::Args`]).
#[derive(Debug, Clone)]
pub struct Config {
    /// How long an access token lives.
    pub token_ttl: Duration,
    /// How old the signing key may get before it is rotated.
    pub key_rotation_interval: Duration,
    /// How long an instance trusts its cached keys before re-reading them from the store.
    pub key_refresh_after: Duration,
    /// How the signing keys' private halves are kept at rest ([`crate::sealing`]).
    pub sealing: Sealing,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            token_ttl: Duration::from_secs(15 * 60),
            key_rotation_interval: Duration::from_secs(24 * 60 * 60),
            key_refresh_after: keys::DEFAULT_REFRESH_AFTER,
            sealing: Sealing::Clear,
        }
    }
}

/// Why an instance could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot prepare the signing keys: {0}")]
    Keys(#[from] keys::Error),
}

/// One instance's state. Cheap to clone.
#[derive(Debug, Clone)]
pub struct App {
    pub store: Store,
    pub passwords: Passwords,
    pub keys: KeyRing,
    /// The time accounts are stamped with.
    pub clock: Clock,
}

impl App {
    /// Makes sure there is an active signing key (rotating it on schedule is
    /// [`crate::rotation::start`]'s job). `db` must have
    /// [`crate::MIGRATIONS`] applied; `outbox` carries the events sign-ups announce. Safe when
    /// other instances start at the same moment.
    pub async fn start(
        db: Db,
        outbox: Outbox,
        config: &Config,
        clock: Clock,
    ) -> Result<App, StartError> {
        let store = Store::new(db, outbox);
        let keys = KeyRing::start(
            store.clone(),
            clock.clone(),
            config.token_ttl,
            config.key_refresh_after,
            config.sealing.clone(),
        )
        .await?;
        Ok(App {
            store,
            passwords: Passwords::new(),
            keys,
            clock,
        })
    }
}
