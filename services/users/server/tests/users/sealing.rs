//! The signing keys at rest, against both backends: read straight from the store, no private
//! key is there in clear; a store written in clear is sealed at the next start, its keys kept;
//! and a store whose keys are sealed does not open without the key-encryption key.

use brigade_chassis::db::{Backend, Db};
use brigade_chassis::events::Outbox;
use brigade_chassis::testing::own_args;
use users::sealing::{Sealing, SEALED_PREFIX};
use users::{App, Clock, Config, Users};

use crate::support::{kid, migrated, sealing};

brigade_chassis::store_suite!(
    no_private_key_is_stored_in_clear,
    keys_stored_in_clear_are_sealed_at_the_next_start_and_still_sign,
    sealed_keys_do_not_open_without_the_key_encryption_key,
);

/// Every stored key, as the store holds it.
async fn stored_keys(db: &Db) -> Vec<Vec<u8>> {
    const SQL: &str = "SELECT pkcs8 FROM signing_keys";
    match db {
        Db::Sqlite(db) => sqlx::query_scalar(SQL).fetch_all(db.pool()).await.unwrap(),
        Db::Postgres(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await.unwrap(),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn start(db: &Db, sealing: Sealing) -> Result<App, users::app::StartError> {
    let config = Config {
        sealing,
        ..Config::default()
    };
    App::start(db.clone(), Outbox::new(), &config, Clock::system()).await
}

async fn no_private_key_is_stored_in_clear(db: Db) {
    let db = migrated(db).await;
    let app = start(&db, sealing()).await.unwrap();
    app.keys.rotate().await.unwrap();
    let active = app.keys.signing_key().await.unwrap();
    let der = active.pkcs8_der();
    // The Ed25519 seed: the last 32 bytes of its PKCS#8 document.
    let seed = &der[der.len() - 32..];
    let stored = stored_keys(&db).await;
    assert_eq!(stored.len(), 2);
    for row in &stored {
        assert!(row.starts_with(SEALED_PREFIX));
        assert!(!contains(row, seed), "a private key is stored in clear");
        assert!(!contains(row, der));
    }
}

async fn keys_stored_in_clear_are_sealed_at_the_next_start_and_still_sign(db: Db) {
    let db = migrated(db).await;
    let before = start(&db, Sealing::Clear).await.unwrap();
    let token = before
        .keys
        .issue(uuid::Uuid::new_v4(), "ada@example.com")
        .await
        .unwrap();
    let seed = before
        .keys
        .signing_key()
        .await
        .unwrap()
        .pkcs8_der()
        .to_vec();
    assert!(stored_keys(&db)
        .await
        .iter()
        .all(|row| !row.starts_with(SEALED_PREFIX)));

    let after = start(&db, sealing()).await.unwrap();
    let stored = stored_keys(&db).await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].starts_with(SEALED_PREFIX));
    assert!(!contains(&stored[0], &seed[seed.len() - 32..]));
    // The same key, opened: tokens it signed before still verify, and it signs on.
    after.keys.verify(&token).await.unwrap();
    let again = after
        .keys
        .issue(uuid::Uuid::new_v4(), "bob@example.com")
        .await
        .unwrap();
    assert_eq!(kid(&again), kid(&token));
    // A second instance starting with the key seals nothing twice.
    start(&db, sealing()).await.unwrap();
    assert_eq!(stored_keys(&db).await, stored);
}

async fn sealed_keys_do_not_open_without_the_key_encryption_key(db: Db) {
    let db = migrated(db).await;
    start(&db, sealing()).await.unwrap();
    let error = start(&db, Sealing::Clear).await.unwrap_err().to_string();
    assert!(error.contains("--key-encryption-key-file"), "{error}");
    let other = Sealing::Sealed(users::sealing::KeyEncryptionKey::generate().0);
    let error = start(&db, other).await.unwrap_err().to_string();
    assert!(error.contains("does not open"), "{error}");
}

#[test]
fn a_postgresql_store_refuses_to_start_without_a_key_encryption_key() {
    let args = own_args::<Users>(&[]).unwrap();
    let refusal = args.sealing(Backend::Postgres).unwrap_err();
    assert!(refusal.contains("refusing to start"), "{refusal}");
    assert!(refusal.contains("--key-encryption-key-file"), "{refusal}");
    // SQLite (development) runs with keys in clear, said in a warning.
    assert!(!args.sealing(Backend::Sqlite).unwrap().is_sealed());

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kek");
    let (_, text) = users::sealing::KeyEncryptionKey::generate();
    std::fs::write(&file, format!("{text}\n")).unwrap();
    let path = file.display().to_string();
    let args = own_args::<Users>(&["--key-encryption-key-file", &path]).unwrap();
    assert!(args.sealing(Backend::Postgres).unwrap().is_sealed());
    // Nothing of the key in the arguments' debug form (what a start-up log could print).
    let args = own_args::<Users>(&["--key-encryption-key", &text]).unwrap();
    assert!(!format!("{args:?}").contains(&text));
    assert!(args.sealing(Backend::Postgres).unwrap().is_sealed());
    let bad = dir.path().join("short");
    std::fs::write(&bad, "c2hvcnQ=").unwrap();
    let args =
        own_args::<Users>(&["--key-encryption-key-file", &bad.display().to_string()]).unwrap();
    assert!(args
        .sealing(Backend::Sqlite)
        .unwrap_err()
        .contains("32 bytes"));
}
