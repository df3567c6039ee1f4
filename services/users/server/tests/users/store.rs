//! Accounts and signing keys in the store, each test run against SQLite and PostgreSQL.

use brigade_chassis::db::Db;
use brigade_chassis::events::{stored_events, Event, Outbox};
use serde_json::json;
use users::store::CreateError;
use users::Store;
use users_api::events::UserRegistered;

use crate::support::{account, active_keys, sealing, second_pool, store};

brigade_chassis::store_suite!(
    an_account_is_created_once_per_email_and_found_by_email_and_id,
    a_sign_up_announces_the_user_once_with_its_address_and_nothing_secret,
    two_sign_ups_of_one_email_at_once_create_one_account,
    instances_starting_at_once_make_one_active_key,
    a_rotation_retires_the_active_key_and_deletes_keys_past_their_grace,
    rotations_at_once_leave_one_active_key,
    a_due_rotation_checked_by_every_instance_happens_once,
);

async fn an_account_is_created_once_per_email_and_found_by_email_and_id(db: Db) {
    let store = store(db).await;
    let new = account("ada@example.com");
    let user = store.create_user(&new).await.unwrap();
    assert_eq!(user.id, new.id);
    assert_eq!(user.email, "ada@example.com");
    assert_eq!(user.created_at_ms, new.created_at_ms);

    let found = store
        .account_by_email("ada@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user, user);
    assert_eq!(found.password_hash, new.password_hash);
    assert_eq!(store.user(user.id).await.unwrap(), Some(user.clone()));
    assert!(store
        .account_by_email("bob@example.com")
        .await
        .unwrap()
        .is_none());
    assert!(store.user(uuid::Uuid::new_v4()).await.unwrap().is_none());

    let again = store.create_user(&account("ada@example.com")).await;
    assert!(matches!(again, Err(CreateError::EmailTaken)), "{again:?}");
    // The first account is untouched.
    assert_eq!(store.user(user.id).await.unwrap(), Some(user));
}

async fn a_sign_up_announces_the_user_once_with_its_address_and_nothing_secret(db: Db) {
    let store = store(db).await;
    assert!(stored_events(store.db()).await.unwrap().is_empty());
    let new = account("ada@example.com");
    let user = store.create_user(&new).await.unwrap();

    let events = stored_events(store.db()).await.unwrap();
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    assert_eq!(event.event_type, UserRegistered::type_name());
    assert_eq!(event.source, "users");
    assert_eq!(event.subject, user.id.to_string());
    assert_eq!(event.subjectseq, 1);
    assert_eq!(event.schemaversion, 2);
    // Exactly these members: the address notifications emails (normalised as stored), and no
    // name or hash travels to other stores.
    assert_eq!(
        event.data,
        json!({
            "user_id": user.id,
            "registered_at_ms": new.created_at_ms,
            "email": "ada@example.com",
        })
    );
    assert_eq!(
        event.decode::<UserRegistered>().unwrap(),
        UserRegistered {
            user_id: user.id,
            registered_at_ms: new.created_at_ms,
            email: Some(user.email.clone()),
        }
    );

    // A sign-up refused because the email is taken announces nothing.
    let again = store.create_user(&account("ada@example.com")).await;
    assert!(matches!(again, Err(CreateError::EmailTaken)), "{again:?}");
    assert_eq!(stored_events(store.db()).await.unwrap().len(), 1);

    // Another account is another subject.
    let bob = store
        .create_user(&account("bob@example.com"))
        .await
        .unwrap();
    let events = stored_events(store.db()).await.unwrap();
    let subjects: Vec<_> = events.iter().map(|e| e.subject.clone()).collect();
    assert_eq!(subjects, [user.id.to_string(), bob.id.to_string()]);
}

async fn two_sign_ups_of_one_email_at_once_create_one_account(db: Db) {
    let other = second_pool(&db).await;
    let a = store(db).await;
    let b = Store::new(other, Outbox::new());
    for round in 0..5 {
        let email = format!("race{round}@example.com");
        let (x, y) = (account(&email), account(&email));
        let (first, second) = tokio::join!(a.create_user(&x), b.create_user(&y));
        let created = [&first, &second].iter().filter(|r| r.is_ok()).count();
        assert_eq!(created, 1, "{first:?} {second:?}");
        let refused = [first, second]
            .into_iter()
            .filter_map(Result::err)
            .collect::<Vec<_>>();
        assert!(
            matches!(refused.as_slice(), [CreateError::EmailTaken]),
            "{refused:?}"
        );
    }
    // One event per account created, none for the refused sign-ups.
    assert_eq!(stored_events(a.db()).await.unwrap().len(), 5);
}

async fn instances_starting_at_once_make_one_active_key(db: Db) {
    let db = crate::support::migrated(db).await;
    let mut stores = vec![Store::new(db.clone(), Outbox::new())];
    for _ in 0..3 {
        stores.push(Store::new(second_pool(&db).await, Outbox::new()));
    }
    let now = 1_700_000_000_000;
    // Each "instance" on its own task, so that they really run at once.
    let starts: Vec<_> = stores
        .iter()
        .cloned()
        .map(|s| tokio::spawn(async move { s.ensure_active_key(now, &sealing()).await }))
        .collect();
    let mut kids = Vec::new();
    for start in starts {
        kids.push(start.await.unwrap().unwrap().kid);
    }
    assert!(kids.iter().all(|k| *k == kids[0]), "{kids:?}");
    assert_eq!(active_keys(&db).await, 1);
    // Starting again finds the same key.
    let again = stores[0]
        .ensure_active_key(now + 1, &sealing())
        .await
        .unwrap();
    assert_eq!(again.kid, kids[0]);
    assert_eq!(again.created_at_ms, now);
}

async fn a_rotation_retires_the_active_key_and_deletes_keys_past_their_grace(db: Db) {
    let store = store(db).await;
    let t0 = 1_700_000_000_000;
    let first = store.ensure_active_key(t0, &sealing()).await.unwrap();
    let second = store.rotate_key(t0 + 1_000, 0, &sealing()).await.unwrap();
    assert_ne!(second.kid, first.kid);
    assert_eq!(second.created_at_ms, t0 + 1_000);
    assert_eq!(store.active_key().await.unwrap().unwrap().kid, second.kid);

    // Published: the active key, and the retired one while its retirement is recent enough.
    let kids =
        |keys: Vec<users::store::StoredKey>| keys.into_iter().map(|k| k.kid).collect::<Vec<_>>();
    assert_eq!(
        kids(store.published_keys(t0 + 999).await.unwrap()),
        [second.kid.clone(), first.kid.clone()]
    );
    let published = store.published_keys(t0).await.unwrap();
    assert_eq!(published[1].retired_at_ms, Some(t0 + 1_000));
    assert_eq!(
        kids(store.published_keys(t0 + 1_000).await.unwrap()),
        [second.kid.as_str()]
    );

    // A later rotation deletes the keys retired before the boundary it is given.
    let third = store
        .rotate_key(t0 + 5_000, t0 + 2_000, &sealing())
        .await
        .unwrap();
    let everything = store.published_keys(0).await.unwrap();
    assert_eq!(kids(everything), [third.kid.clone(), second.kid.clone()]);
    // Each stored key still signs.
    assert_eq!(third.signing_key(&sealing()).unwrap().kid(), third.kid);
}

async fn rotations_at_once_leave_one_active_key(db: Db) {
    let db = crate::support::migrated(db).await;
    let a = Store::new(db.clone(), Outbox::new());
    let b = Store::new(second_pool(&db).await, Outbox::new());
    a.ensure_active_key(1_000, &sealing()).await.unwrap();
    for round in 0..5 {
        let now = 2_000 + round * 10;
        let keys = sealing();
        let (x, y) = tokio::join!(a.rotate_key(now, 0, &keys), b.rotate_key(now, 0, &keys));
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_ne!(x.kid, y.kid);
        assert_eq!(active_keys(&db).await, 1);
        let active = a.active_key().await.unwrap().unwrap().kid;
        assert!(active == x.kid || active == y.kid);
    }
}

async fn a_due_rotation_checked_by_every_instance_happens_once(db: Db) {
    let db = crate::support::migrated(db).await;
    let a = Store::new(db.clone(), Outbox::new());
    let b = Store::new(second_pool(&db).await, Outbox::new());
    let t0 = 1_000_000;
    let interval = 60_000;
    let first = a.ensure_active_key(t0, &sealing()).await.unwrap();
    // Not due yet: nobody rotates.
    let not_due = a
        .rotate_key_if_made_before(t0 + 10, t0 + 10 - interval, 0, &sealing())
        .await
        .unwrap();
    assert!(not_due.is_none());
    // Due: both instances check at the same moment; one rotates.
    let now = t0 + interval;
    let keys = sealing();
    let (x, y) = tokio::join!(
        a.rotate_key_if_made_before(now, now - interval, 0, &keys),
        b.rotate_key_if_made_before(now, now - interval, 0, &keys)
    );
    let rotated: Vec<_> = [x.unwrap(), y.unwrap()].into_iter().flatten().collect();
    assert_eq!(rotated.len(), 1, "{rotated:?}");
    assert_ne!(rotated[0].kid, first.kid);
    assert_eq!(active_keys(&db).await, 1);
}

/// The twin migration files build the same tables, columns, keys and indexes on both engines.
#[tokio::test]
async fn the_migrations_build_the_same_schema_on_both_engines() {
    brigade_chassis::testing::schema::assert_migrations_agree(users::MIGRATIONS).await;
}
