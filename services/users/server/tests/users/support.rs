//! What the tests share: migrated stores, second pools, and reading a token's key id.

use brigade_chassis::db::{migrate, Db};
use brigade_chassis::events::Outbox;
use users::sealing::{KeyEncryptionKey, Sealing};
use users::store::NewAccount;
use users::{Store, MIGRATIONS};
use uuid::Uuid;

/// `db` with the users schema.
pub async fn migrated(db: Db) -> Db {
    migrate(&db, MIGRATIONS).await.unwrap();
    db
}

/// Another pool on the same store, as a second instance of the service would have.
pub async fn second_pool(db: &Db) -> Db {
    db.another_pool(4).await.unwrap()
}

/// Runs one statement that returns a count, on either backend.
pub async fn count(db: &Db, sql: &str) -> i64 {
    match db {
        Db::Sqlite(db) => sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap(),
        Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
    }
}

/// Runs one statement, on either backend.
pub async fn execute(db: &Db, sql: &str) {
    match db {
        Db::Sqlite(db) => drop(sqlx::query(sql).execute(db.pool()).await.unwrap()),
        Db::Postgres(pool) => drop(sqlx::query(sql).execute(pool).await.unwrap()),
    }
}

/// How many keys are active: it must always be one once a service has started.
pub async fn active_keys(db: &Db) -> i64 {
    count(
        db,
        "SELECT COUNT(*) FROM signing_keys WHERE retired_at_ms IS NULL",
    )
    .await
}

/// The key id a token names.
pub fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

/// An account for `email` with a made-up hash (the store never looks inside it).
pub fn account(email: &str) -> NewAccount {
    NewAccount {
        id: Uuid::new_v4(),
        email: email.to_owned(),
        name: "Ada Lovelace".to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        created_at_ms: 1_700_000_000_000,
    }
}

/// A store on `db`, migrated.
pub async fn store(db: Db) -> Store {
    Store::new(migrated(db).await, Outbox::new())
}

/// The key-encryption key every instance of a test shares (as instances of one service do).
const TEST_KEY_ENCRYPTION_KEY: &str = "dGVzdCBrZXktZW5jcnlwdGlvbiBrZXkgLSAzMiBieXQ=";

/// Sealing with [`TEST_KEY_ENCRYPTION_KEY`].
pub fn sealing() -> Sealing {
    Sealing::Sealed(KeyEncryptionKey::parse(TEST_KEY_ENCRYPTION_KEY).unwrap())
}
