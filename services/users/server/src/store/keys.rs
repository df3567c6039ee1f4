//! Signing keys: exactly one active key signs; rotating retires it and makes a new one in one
//! transaction; a retired key is kept until the tokens it signed have expired, then deleted.

use brigade_chassis::auth::SigningKey;

use super::{keys_transaction, on_pool, stored_ms, time_ms, Error, Store};

/// A signing key as stored. Its private half never leaves the service.
#[derive(Clone)]
pub struct StoredKey {
    pub kid: String,
    pub created_at_ms: u64,
    /// `None` while it is the active key.
    pub retired_at_ms: Option<u64>,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for StoredKey {
    // Never the key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("created_at_ms", &self.created_at_ms)
            .field("retired_at_ms", &self.retired_at_ms)
            .finish_non_exhaustive()
    }
}

impl StoredKey {
    /// The key, ready to sign and to publish.
    pub fn signing_key(&self) -> Result<SigningKey, Error> {
        Ok(SigningKey::from_pkcs8(&self.kid, &self.pkcs8)?)
    }
}

const INSERT: &str = "INSERT INTO signing_keys (kid, pkcs8, created_at_ms, retired_at_ms) \
                      VALUES ($1, $2, $3, NULL)";

type KeyRow = (String, Vec<u8>, i64, Option<i64>);

const COLUMNS: &str = "kid, pkcs8, created_at_ms, retired_at_ms";

fn stored((kid, pkcs8, created_at_ms, retired_at_ms): KeyRow) -> Result<StoredKey, Error> {
    Ok(StoredKey {
        created_at_ms: time_ms(created_at_ms, "created_at_ms")?,
        retired_at_ms: retired_at_ms
            .map(|ms| time_ms(ms, "retired_at_ms"))
            .transpose()?,
        kid,
        pkcs8,
    })
}

/// A new key with a random id.
fn generate(now_ms: u64) -> Result<StoredKey, Error> {
    let kid = uuid::Uuid::new_v4().simple().to_string();
    let key = SigningKey::generate(&kid)?;
    Ok(StoredKey {
        kid,
        created_at_ms: now_ms,
        retired_at_ms: None,
        pkcs8: key.pkcs8_der().to_vec(),
    })
}

/// What a rotation does, given the active key (if any): nothing, or retire it and make a new one.
#[derive(Debug, Clone, Copy)]
enum When {
    Always,
    /// Only when the active key was made at or before this time (or there is none).
    MadeAtOrBefore(u64),
}

impl Store {
    /// The key that signs now, if there is one.
    pub async fn active_key(&self) -> Result<Option<StoredKey>, Error> {
        let sql = format!("SELECT {COLUMNS} FROM signing_keys WHERE retired_at_ms IS NULL");
        let row: Option<KeyRow> = on_pool!(&self.db, |pool| sqlx::query_as(&sql)
            .fetch_optional(pool)
            .await?);
        row.map(stored).transpose()
    }

    /// The active key, made now if there is none. Safe when several instances start at once:
    /// one makes the key and the others find it.
    pub async fn ensure_active_key(&self, now_ms: u64) -> Result<StoredKey, Error> {
        // Most starts find a key: no need for the write lock then.
        if let Some(key) = self.active_key().await? {
            return Ok(key);
        }
        let sql = format!("SELECT {COLUMNS} FROM signing_keys WHERE retired_at_ms IS NULL");
        let key = keys_transaction!(&self.db, |tx| {
            let row: Option<KeyRow> = sqlx::query_as(&sql).fetch_optional(&mut *tx).await?;
            match row {
                Some(row) => stored(row)?,
                None => {
                    let key = generate(now_ms)?;
                    sqlx::query(INSERT)
                        .bind(&key.kid)
                        .bind(&key.pkcs8)
                        .bind(stored_ms(key.created_at_ms))
                        .execute(&mut *tx)
                        .await?;
                    tracing::info!(kid = %key.kid, "made the first token signing key");
                    key
                }
            }
        });
        Ok(key)
    }

    /// Retires the active key and makes a new one, in one transaction, and deletes the retired
    /// keys whose grace ended before `retired_before_ms`. Returns the new active key.
    pub async fn rotate_key(
        &self,
        now_ms: u64,
        retired_before_ms: u64,
    ) -> Result<StoredKey, Error> {
        let rotated = self.rotate(now_ms, When::Always, retired_before_ms).await?;
        rotated.ok_or_else(|| Error::Corrupt("a forced rotation made no key".to_owned()))
    }

    /// [`Store::rotate_key`] if the active key was made at or before `made_at_or_before_ms`.
    /// Instances that all check on a timer rotate once: the first does it under the lock, and
    /// the others then find a key that is new.
    pub async fn rotate_key_if_made_before(
        &self,
        now_ms: u64,
        made_at_or_before_ms: u64,
        retired_before_ms: u64,
    ) -> Result<Option<StoredKey>, Error> {
        self.rotate(
            now_ms,
            When::MadeAtOrBefore(made_at_or_before_ms),
            retired_before_ms,
        )
        .await
    }

    async fn rotate(
        &self,
        now_ms: u64,
        when: When,
        retired_before_ms: u64,
    ) -> Result<Option<StoredKey>, Error> {
        let select = format!("SELECT {COLUMNS} FROM signing_keys WHERE retired_at_ms IS NULL");
        const RETIRE: &str =
            "UPDATE signing_keys SET retired_at_ms = $1 WHERE retired_at_ms IS NULL";
        const PRUNE: &str =
            "DELETE FROM signing_keys WHERE retired_at_ms IS NOT NULL AND retired_at_ms < $1";
        let rotated = keys_transaction!(&self.db, |tx| {
            let active: Option<KeyRow> = sqlx::query_as(&select).fetch_optional(&mut *tx).await?;
            let due = match (when, active) {
                (When::Always, _) | (_, None) => true,
                (When::MadeAtOrBefore(limit), Some(row)) => stored(row)?.created_at_ms <= limit,
            };
            if due {
                sqlx::query(RETIRE)
                    .bind(stored_ms(now_ms))
                    .execute(&mut *tx)
                    .await?;
                let key = generate(now_ms)?;
                sqlx::query(INSERT)
                    .bind(&key.kid)
                    .bind(&key.pkcs8)
                    .bind(stored_ms(key.created_at_ms))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(PRUNE)
                    .bind(stored_ms(retired_before_ms))
                    .execute(&mut *tx)
                    .await?;
                Some(key)
            } else {
                None
            }
        });
        Ok(rotated)
    }

    /// The keys to publish: the active one, and those retired after `retired_after_ms`, newest
    /// first.
    pub async fn published_keys(&self, retired_after_ms: u64) -> Result<Vec<StoredKey>, Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM signing_keys \
             WHERE retired_at_ms IS NULL OR retired_at_ms > $1 \
             ORDER BY created_at_ms DESC, kid"
        );
        let rows: Vec<KeyRow> = on_pool!(&self.db, |pool| sqlx::query_as(&sql)
            .bind(stored_ms(retired_after_ms))
            .fetch_all(pool)
            .await?);
        rows.into_iter().map(stored).collect()
    }
}
