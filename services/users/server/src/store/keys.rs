//! Signing keys: exactly one active key signs; rotating retires it and makes a new one in one
//! transaction; a retired key is kept until the tokens it signed have expired, then deleted.

use brigade_chassis::auth::SigningKey;
use brigade_chassis::db::{Backend, Db, Query, Tx};

use super::{stored_ms, time_ms, Error, Store};
use crate::sealing::{self, Sealing};

/// A signing key as stored. Its private half never leaves the service, and is sealed at rest
/// when the service has a key-encryption key ([`crate::sealing`]).
#[derive(Clone)]
pub struct StoredKey {
    pub kid: String,
    pub created_at_ms: u64,
    /// `None` while it is the active key.
    pub retired_at_ms: Option<u64>,
    /// The PKCS#8 document as stored: sealed, or clear.
    stored: Vec<u8>,
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
    /// The key, ready to sign and to publish, opened with `sealing`.
    pub fn signing_key(&self, sealing: &Sealing) -> Result<SigningKey, Error> {
        let pkcs8 = sealing.open(&self.kid, &self.stored)?;
        Ok(SigningKey::from_pkcs8(&self.kid, &pkcs8)?)
    }

    /// Whether its private half is encrypted in the store.
    pub fn is_sealed(&self) -> bool {
        sealing::is_sealed(&self.stored)
    }
}

const INSERT: &str = "INSERT INTO signing_keys (kid, pkcs8, created_at_ms, retired_at_ms) \
                      VALUES (?, ?, ?, NULL)";

type KeyRow = (String, Vec<u8>, i64, Option<i64>);

const COLUMNS: &str = "kid, pkcs8, created_at_ms, retired_at_ms";

fn select_active() -> Query {
    Query::new(&format!(
        "SELECT {COLUMNS} FROM signing_keys WHERE retired_at_ms IS NULL"
    ))
}

/// Stores `key` inside `tx`.
async fn insert(tx: &mut Tx, key: &StoredKey) -> Result<(), Error> {
    Query::new(INSERT)
        .bind(&key.kid)
        .bind(key.stored.as_slice())
        .bind(stored_ms(key.created_at_ms))
        .execute(tx)
        .await?;
    Ok(())
}

/// Begins a transaction that holds the signing keys' write lock from its first statement (its
/// caller commits; an early return rolls it back). The lock makes a read-then-write (is there
/// an active key? is it old enough to rotate?) safe when several instances do it at once:
/// SQLite's `BEGIN IMMEDIATE` ([`Db::begin_write`]) takes the database's write lock before the
/// first read (a deferred `BEGIN` would let two readers both decide, then one fail to write);
/// PostgreSQL's SHARE ROW EXCLUSIVE conflicts with itself and with every write, and each
/// statement after it sees what the previous holder committed.
async fn begin_keys_transaction(db: &Db) -> Result<Tx, Error> {
    let mut tx = db.begin_write().await?;
    if tx.backend() == Backend::Postgres {
        Query::new("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut tx)
            .await?;
    }
    Ok(tx)
}

fn stored((kid, stored, created_at_ms, retired_at_ms): KeyRow) -> Result<StoredKey, Error> {
    Ok(StoredKey {
        created_at_ms: time_ms(created_at_ms, "created_at_ms")?,
        retired_at_ms: retired_at_ms
            .map(|ms| time_ms(ms, "retired_at_ms"))
            .transpose()?,
        kid,
        stored,
    })
}

/// A new key with a random id, sealed with `sealing` for the store.
fn generate(now_ms: u64, sealing: &Sealing) -> Result<StoredKey, Error> {
    let kid = uuid::Uuid::new_v4().simple().to_string();
    let key = SigningKey::generate(&kid)?;
    Ok(StoredKey {
        stored: sealing.seal(&kid, key.pkcs8_der())?,
        kid,
        created_at_ms: now_ms,
        retired_at_ms: None,
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
        let row: Option<KeyRow> = select_active().fetch_optional(&self.db).await?;
        row.map(stored).transpose()
    }

    /// The active key, made now if there is none. Safe when several instances start at once:
    /// one makes the key and the others find it.
    pub async fn ensure_active_key(
        &self,
        now_ms: u64,
        sealing: &Sealing,
    ) -> Result<StoredKey, Error> {
        // Most starts find a key: no need for the write lock then.
        if let Some(key) = self.active_key().await? {
            return Ok(key);
        }
        let mut tx = begin_keys_transaction(&self.db).await?;
        let row: Option<KeyRow> = select_active().fetch_optional(&mut tx).await?;
        let key = match row {
            Some(row) => stored(row)?,
            None => {
                let key = generate(now_ms, sealing)?;
                insert(&mut tx, &key).await?;
                tracing::info!(kid = %key.kid, "made the first token signing key");
                key
            }
        };
        tx.commit().await?;
        Ok(key)
    }

    /// Retires the active key and makes a new one, in one transaction, and deletes the retired
    /// keys whose grace ended before `retired_before_ms`. Returns the new active key.
    pub async fn rotate_key(
        &self,
        now_ms: u64,
        retired_before_ms: u64,
        sealing: &Sealing,
    ) -> Result<StoredKey, Error> {
        let rotated = self
            .rotate(now_ms, When::Always, retired_before_ms, sealing)
            .await?;
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
        sealing: &Sealing,
    ) -> Result<Option<StoredKey>, Error> {
        self.rotate(
            now_ms,
            When::MadeAtOrBefore(made_at_or_before_ms),
            retired_before_ms,
            sealing,
        )
        .await
    }

    async fn rotate(
        &self,
        now_ms: u64,
        when: When,
        retired_before_ms: u64,
        sealing: &Sealing,
    ) -> Result<Option<StoredKey>, Error> {
        const RETIRE: &str =
            "UPDATE signing_keys SET retired_at_ms = ? WHERE retired_at_ms IS NULL";
        const PRUNE: &str =
            "DELETE FROM signing_keys WHERE retired_at_ms IS NOT NULL AND retired_at_ms < ?";
        let mut tx = begin_keys_transaction(&self.db).await?;
        let active: Option<KeyRow> = select_active().fetch_optional(&mut tx).await?;
        let due = match (when, active) {
            (When::Always, _) | (_, None) => true,
            (When::MadeAtOrBefore(limit), Some(row)) => stored(row)?.created_at_ms <= limit,
        };
        let rotated = if due {
            Query::new(RETIRE)
                .bind(stored_ms(now_ms))
                .execute(&mut tx)
                .await?;
            let key = generate(now_ms, sealing)?;
            insert(&mut tx, &key).await?;
            Query::new(PRUNE)
                .bind(stored_ms(retired_before_ms))
                .execute(&mut tx)
                .await?;
            Some(key)
        } else {
            None
        };
        tx.commit().await?;
        Ok(rotated)
    }

    /// The keys to publish: the active one, and those retired after `retired_after_ms`, newest
    /// first.
    pub async fn published_keys(&self, retired_after_ms: u64) -> Result<Vec<StoredKey>, Error> {
        let rows: Vec<KeyRow> = Query::new(&format!(
            "SELECT {COLUMNS} FROM signing_keys \
             WHERE retired_at_ms IS NULL OR retired_at_ms > ? \
             ORDER BY created_at_ms DESC, kid"
        ))
        .bind(stored_ms(retired_after_ms))
        .fetch_all(&self.db)
        .await?;
        rows.into_iter().map(stored).collect()
    }
}

impl Store {
    /// Seals every key still stored in clear (a store written before keys were sealed, or by an
    /// instance without a key-encryption key); returns how many it sealed. Each row is replaced
    /// only if it is still the clear one read, so instances doing it at once seal each key once.
    pub async fn seal_clear_keys(&self, sealing: &Sealing) -> Result<usize, Error> {
        if !sealing.is_sealed() {
            return Ok(0);
        }
        let rows: Vec<KeyRow> = Query::new(&format!("SELECT {COLUMNS} FROM signing_keys"))
            .fetch_all(&self.db)
            .await?;
        let mut sealed = 0;
        for key in rows.into_iter().map(stored) {
            let key = key?;
            if key.is_sealed() {
                continue;
            }
            let replaced = sealing.seal(&key.kid, &key.stored)?;
            let done = Query::new("UPDATE signing_keys SET pkcs8 = ? WHERE kid = ? AND pkcs8 = ?")
                .bind(replaced.as_slice())
                .bind(&key.kid)
                .bind(key.stored.as_slice())
                .execute(&self.db)
                .await?;
            sealed += usize::from(done > 0);
        }
        Ok(sealed)
    }
}
