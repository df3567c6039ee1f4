//! The token signing keys as one instance sees them: which key signs, which keys are published,
//! verifying tokens with the published keys, and rotating.
//!
//! The store is the truth, shared by every instance. An instance caches the active key for
//! [`KeyRing::refresh_after`] (so a rotation by another instance reaches it within that time) and
//! the published keys' verifier likewise, re-reading them at once when a token names a key it
//! does not know. A retired key stays published for the token lifetime plus [`GRACE_SLACK`], so
//! that every token it signed (including those signed by an instance that had not yet seen the
//! rotation) verifies until it expires: a rotation logs nobody out.

use std::sync::Arc;
use std::time::Duration;

use brigade_chassis::auth::{AuthError, Claims, SigningKey, Verifier, AUDIENCE, ISSUER};
use tokio::sync::Mutex;
use tokio::time::Instant;
use users_api::JwkSet;
use uuid::Uuid;

use crate::clock::{duration_ms, Clock};
use crate::sealing::Sealing;
use crate::store::{self, Store, StoredKey};

/// How long a retired key stays published beyond the token lifetime: covers instances that
/// still signed with it for a moment after the rotation, and clock differences.
pub const GRACE_SLACK: Duration = Duration::from_secs(60);

/// How long an instance trusts its cached copy of the active key and published keys.
pub const DEFAULT_REFRESH_AFTER: Duration = Duration::from_secs(5);

/// Why a token could not be issued or the keys read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("cannot sign the access token: {0}")]
    Sign(#[from] brigade_chassis::auth::SigningError),
}

struct Cached<T> {
    value: T,
    read_at: Instant,
}

/// The verifier of the published keys, and which keys it holds.
#[derive(Clone)]
struct Published {
    kids: Vec<String>,
    verifier: Verifier,
}

struct Inner {
    store: Store,
    clock: Clock,
    token_ttl: Duration,
    refresh_after: Duration,
    /// How private keys are kept at rest.
    sealing: Sealing,
    signing: Mutex<Option<Cached<SigningKey>>>,
    published: Mutex<Option<Cached<Published>>>,
}

/// This instance's view of the signing keys. Cheap to clone.
#[derive(Clone)]
pub struct KeyRing {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("token_ttl", &self.inner.token_ttl)
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Seals the keys still stored in clear (when `sealing` has a key) and makes sure the store
    /// has an active key (both safe when instances start together).
    pub async fn start(
        store: Store,
        clock: Clock,
        token_ttl: Duration,
        refresh_after: Duration,
        sealing: Sealing,
    ) -> Result<KeyRing, Error> {
        let sealed = store.seal_clear_keys(&sealing).await?;
        if sealed > 0 {
            tracing::info!(keys = sealed, "encrypted the signing keys stored in clear");
        }
        let active = store.ensure_active_key(clock.now_ms(), &sealing).await?;
        let signing = active.signing_key(&sealing)?;
        Ok(KeyRing {
            inner: Arc::new(Inner {
                store,
                clock,
                token_ttl,
                refresh_after,
                sealing,
                signing: Mutex::new(Some(Cached {
                    value: signing,
                    read_at: Instant::now(),
                })),
                published: Mutex::new(None),
            }),
        })
    }

    /// How long an access token lives.
    pub fn token_ttl(&self) -> Duration {
        self.inner.token_ttl
    }

    /// How long this instance trusts its cached keys.
    pub fn refresh_after(&self) -> Duration {
        self.inner.refresh_after
    }

    /// An access token for `user_id`/`email`, signed by the active key.
    pub async fn issue(&self, user_id: Uuid, email: &str) -> Result<String, Error> {
        let key = self.signing_key().await?;
        let iat = self.inner.clock.now_ms() / 1000;
        let claims = Claims {
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            sub: user_id,
            email: email.to_owned(),
            iat,
            exp: iat + self.inner.token_ttl.as_secs(),
        };
        Ok(key.sign(&claims)?)
    }

    /// The active key: the cached copy while it is fresh, else re-read, so that a rotation by
    /// another instance is picked up.
    pub async fn signing_key(&self) -> Result<SigningKey, Error> {
        let mut cached = self.inner.signing.lock().await;
        if let Some(cached) = cached.as_ref() {
            if cached.read_at.elapsed() < self.inner.refresh_after {
                return Ok(cached.value.clone());
            }
        }
        // A store always has an active key once started; should it have lost it, make one.
        let active = self
            .inner
            .store
            .ensure_active_key(self.inner.clock.now_ms(), &self.inner.sealing)
            .await?;
        let key = active.signing_key(&self.inner.sealing)?;
        *cached = Some(Cached {
            value: key.clone(),
            read_at: Instant::now(),
        });
        Ok(key)
    }

    /// The JWKS to publish: the active key and the retired keys still in their grace period,
    /// public halves only. Read from the store, so every instance publishes the same set.
    pub async fn jwks(&self) -> Result<JwkSet, Error> {
        let keys = self.published_keys().await?;
        Ok(JwkSet {
            keys: keys.iter().map(|k| k.public_jwk().clone()).collect(),
        })
    }

    async fn published_keys(&self) -> Result<Vec<SigningKey>, Error> {
        let grace = duration_ms(self.inner.token_ttl + GRACE_SLACK);
        let retired_after = self.inner.clock.now_ms().saturating_sub(grace);
        let stored = self.inner.store.published_keys(retired_after).await?;
        stored
            .iter()
            .map(|k| k.signing_key(&self.inner.sealing).map_err(Error::from))
            .collect()
    }

    /// Checks `token` against the keys this service publishes, with no call to itself. An
    /// unknown key id makes it re-read the keys once (another instance may have rotated).
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let (verifier, fresh) = self.published_verifier(false).await?;
        match verifier.verify(token).await {
            Err(AuthError::UnknownKey(_)) if !fresh => {
                let (verifier, _) = self.published_verifier(true).await?;
                verifier.verify(token).await
            }
            answer => answer,
        }
    }

    /// The verifier of the published keys, and whether it was read just now.
    async fn published_verifier(&self, force: bool) -> Result<(Verifier, bool), AuthError> {
        let mut cached = self.inner.published.lock().await;
        if let Some(current) = cached.as_ref() {
            if !force && current.read_at.elapsed() < self.inner.refresh_after {
                return Ok((current.value.verifier.clone(), false));
            }
        }
        let keys = self.published_keys().await.map_err(|e| {
            tracing::error!(error = %e, "cannot read the published signing keys");
            AuthError::KeysUnavailable("the users store failed".to_owned())
        })?;
        let kids: Vec<String> = keys.iter().map(|k| k.kid().to_owned()).collect();
        // The verifier is rebuilt only when the key set has changed.
        let published = match cached.take() {
            Some(previous) if previous.value.kids == kids => previous.value,
            _ => {
                let jwks = JwkSet {
                    keys: keys.iter().map(|k| k.public_jwk().clone()).collect(),
                };
                Published {
                    kids,
                    verifier: Verifier::from_jwks(&jwks)?,
                }
            }
        };
        let verifier = published.verifier.clone();
        *cached = Some(Cached {
            value: published,
            read_at: Instant::now(),
        });
        Ok((verifier, true))
    }

    /// Retires the active key and signs with a new one from now on; returns the new key's id.
    pub async fn rotate(&self) -> Result<String, Error> {
        let now = self.inner.clock.now_ms();
        let key = self
            .inner
            .store
            .rotate_key(now, self.grace_ended_before(now), &self.inner.sealing)
            .await?;
        self.adopt(&key).await
    }

    /// Rotates if the active key is at least `max_age` old; returns the new key's id if it did.
    pub async fn rotate_if_older_than(&self, max_age: Duration) -> Result<Option<String>, Error> {
        let now = self.inner.clock.now_ms();
        let made_before = now.saturating_sub(duration_ms(max_age));
        let rotated = self
            .inner
            .store
            .rotate_key_if_made_before(
                now,
                made_before,
                self.grace_ended_before(now),
                &self.inner.sealing,
            )
            .await?;
        match rotated {
            Some(key) => Ok(Some(self.adopt(&key).await?)),
            None => Ok(None),
        }
    }

    /// Keys retired before this time have no unexpired token left: they may be deleted.
    fn grace_ended_before(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(duration_ms(self.inner.token_ttl + GRACE_SLACK))
    }

    /// Signs with `key` from now on, and forgets the published set so the next check re-reads it.
    async fn adopt(&self, key: &StoredKey) -> Result<String, Error> {
        let signing = key.signing_key(&self.inner.sealing)?;
        *self.inner.signing.lock().await = Some(Cached {
            value: signing,
            read_at: Instant::now(),
        });
        *self.inner.published.lock().await = None;
        tracing::info!(kid = %key.kid, "rotated the token signing key");
        Ok(key.kid.clone())
    }
}
