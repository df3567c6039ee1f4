//! Signing, verifying and rotating with the key ring, against both backends: a rotation logs
//! nobody out, a retired key leaves the JWKS after its grace, and other instances follow.

use std::time::Duration;

use brigade_chassis::auth::{AuthError, Verifier};
use brigade_chassis::db::Db;
use brigade_chassis::events::Outbox;
use brigade_chassis::service::Background;
use users::keys::{KeyRing, GRACE_SLACK};
use users::{App, Clock, Config, Store};
use uuid::Uuid;

use crate::support::{active_keys, kid, migrated, sealing, second_pool};

brigade_chassis::store_suite!(
    a_token_signed_before_a_rotation_verifies_until_its_key_leaves_the_jwks,
    another_instance_follows_a_rotation,
    the_rotation_task_rotates_a_key_that_reaches_the_interval,
    instances_starting_at_once_share_one_key,
);

const TTL: Duration = Duration::from_secs(15 * 60);

fn kids(jwks: &users_api::JwkSet) -> Vec<String> {
    jwks.keys
        .iter()
        .map(|k| k.common.key_id.clone().unwrap())
        .collect()
}

async fn a_token_signed_before_a_rotation_verifies_until_its_key_leaves_the_jwks(db: Db) {
    let clock = Clock::manual();
    let store = Store::new(migrated(db).await, Outbox::new());
    let ring = KeyRing::start(store, clock.clone(), TTL, Duration::from_secs(5), sealing())
        .await
        .unwrap();
    let user = Uuid::new_v4();
    let old_token = ring.issue(user, "ada@example.com").await.unwrap();
    let old_kid = kid(&old_token);
    assert_eq!(kids(&ring.jwks().await.unwrap()), [old_kid.as_str()]);

    clock.advance(Duration::from_secs(10));
    let new_kid = ring.rotate().await.unwrap();
    assert_ne!(new_kid, old_kid);
    let new_token = ring.issue(user, "ada@example.com").await.unwrap();
    assert_eq!(
        kid(&new_token),
        new_kid,
        "a new token is signed by the new key"
    );

    // Another service verifies both with the published set.
    let jwks = ring.jwks().await.unwrap();
    assert_eq!(kids(&jwks), [new_kid.clone(), old_kid.clone()]);
    let verifier = Verifier::from_jwks(&jwks).unwrap();
    let claims = verifier.verify(&old_token).await.unwrap();
    assert_eq!(
        (claims.sub, claims.email.as_str()),
        (user, "ada@example.com")
    );
    verifier.verify(&new_token).await.unwrap();
    // And so does the service itself.
    ring.verify(&old_token).await.unwrap();
    ring.verify(&new_token).await.unwrap();

    // Just before the grace ends the old key is still published; just after, it is gone.
    clock.advance(TTL + GRACE_SLACK - Duration::from_millis(1));
    assert_eq!(kids(&ring.jwks().await.unwrap()).len(), 2);
    clock.advance(Duration::from_millis(2));
    let jwks = ring.jwks().await.unwrap();
    assert_eq!(kids(&jwks), [new_kid.as_str()]);
    let verifier = Verifier::from_jwks(&jwks).unwrap();
    assert!(matches!(
        verifier.verify(&old_token).await,
        Err(AuthError::UnknownKey(_))
    ));
    verifier.verify(&new_token).await.unwrap();
    // The published JWKS never carries private material.
    let text = serde_json::to_string(&jwks).unwrap();
    assert!(!text.contains("\"d\""), "{text}");
}

async fn another_instance_follows_a_rotation(db: Db) {
    let db = migrated(db).await;
    let refresh = Duration::from_millis(300);
    let clock = Clock::manual();
    let a = KeyRing::start(
        Store::new(db.clone(), Outbox::new()),
        clock.clone(),
        TTL,
        refresh,
        sealing(),
    )
    .await
    .unwrap();
    let b = KeyRing::start(
        Store::new(second_pool(&db).await, Outbox::new()),
        clock,
        TTL,
        refresh,
        sealing(),
    )
    .await
    .unwrap();
    let user = Uuid::new_v4();
    let before = b.issue(user, "ada@example.com").await.unwrap();
    b.verify(&before).await.unwrap();

    let new_kid = a.rotate().await.unwrap();
    let from_a = a.issue(user, "ada@example.com").await.unwrap();
    // B has not seen the new key, but a token naming it makes B read the keys again at once.
    b.verify(&from_a).await.unwrap();
    b.verify(&before).await.unwrap();
    // Once its cached copy is old enough, B signs with the new key too.
    tokio::time::sleep(refresh + Duration::from_millis(50)).await;
    let after = b.issue(user, "ada@example.com").await.unwrap();
    assert_eq!(kid(&after), new_kid);
    a.verify(&after).await.unwrap();
}

async fn the_rotation_task_rotates_a_key_that_reaches_the_interval(db: Db) {
    let db = migrated(db).await;
    let clock = Clock::manual();
    let interval = Duration::from_secs(4);
    assert_eq!(
        users::rotation::check_every(interval),
        Duration::from_secs(1)
    );
    let config = Config {
        key_rotation_interval: interval,
        ..Config::default()
    };
    let app = App::start(db.clone(), Outbox::new(), &config, clock.clone())
        .await
        .unwrap();
    let background = Background::new();
    users::rotation::start(&background, app.keys.clone(), interval);
    let first = app.store.active_key().await.unwrap().unwrap().kid;
    // The task checks at once and every second: a young key stays.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(app.store.active_key().await.unwrap().unwrap().kid, first);

    clock.advance(interval);
    let mut rotated = None;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let active = app.store.active_key().await.unwrap().unwrap().kid;
        if active != first {
            rotated = Some(active);
            break;
        }
    }
    let rotated = rotated.expect("the key was not rotated within 4 s of becoming due");
    assert_eq!(active_keys(&db).await, 1);
    // The new key is young: the next checks leave it alone.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(app.store.active_key().await.unwrap().unwrap().kid, rotated);
    // The instance signs with the key it rotated to.
    let token = app
        .keys
        .issue(Uuid::new_v4(), "ada@example.com")
        .await
        .unwrap();
    assert_eq!(kid(&token), rotated);
    // The task stops when told, between checks.
    background.stop(Duration::from_secs(1)).await.unwrap();
}

async fn instances_starting_at_once_share_one_key(db: Db) {
    let db = migrated(db).await;
    let other = second_pool(&db).await;
    let config = Config::default();
    let (a, b) = tokio::join!(
        App::start(db.clone(), Outbox::new(), &config, Clock::system()),
        App::start(other, Outbox::new(), &config, Clock::system())
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(active_keys(&db).await, 1);
    let token = a
        .keys
        .issue(Uuid::new_v4(), "ada@example.com")
        .await
        .unwrap();
    let from_b = b
        .keys
        .issue(Uuid::new_v4(), "bob@example.com")
        .await
        .unwrap();
    assert_eq!(kid(&token), kid(&from_b));
    b.keys.verify(&token).await.unwrap();
    a.keys.verify(&from_b).await.unwrap();
}
