//! The store suite: each test is written once, as a function of a fresh store, and run against
//! SQLite and PostgreSQL (skipped with a message when PostgreSQL is not reachable, unless CI).

use brigade_chassis::db::Db;
use brigade_chassis::validation::Page;
use notifications_api::Delivery;
use uuid::Uuid;

use crate::support::{confirmed, deliver, envelope, migrated};

brigade_chassis::store_suite!(
    a_mailbox_is_paged_newest_first_with_its_total,
    pending_messages_are_due_only_with_a_known_address,
    a_claimed_message_is_not_claimed_again_and_a_sent_one_is_never_due,
    a_failed_attempt_waits_until_its_retry,
);

/// `count` confirmed orders of `user`, each a message written with `delivery`.
async fn orders(db: &Db, user: Uuid, count: usize, delivery: Delivery) {
    for _ in 0..count {
        deliver(db, &envelope(&confirmed(user, Uuid::new_v4())), delivery).await;
    }
}

async fn a_mailbox_is_paged_newest_first_with_its_total(db: Db) {
    let store = migrated(db.clone()).await;
    let (ada, bob) = (Uuid::new_v4(), Uuid::new_v4());
    orders(&db, ada, 5, Delivery::Stored).await;
    orders(&db, bob, 1, Delivery::Stored).await;
    let page = |page, page_size| Page { page, page_size };
    let all = store.page(ada, page(1, 100)).await.unwrap();
    assert_eq!((all.items.len(), all.total), (5, 5));
    let newest_first = all
        .items
        .windows(2)
        .all(|w| (w[0].created_at_ms, w[0].id) >= (w[1].created_at_ms, w[1].id));
    assert!(newest_first, "{all:?}");
    let second = store.page(ada, page(2, 2)).await.unwrap();
    assert_eq!((second.page, second.page_size, second.total), (2, 2, 5));
    assert_eq!(second.items, all.items[2..4]);
    let beyond = store.page(ada, page(4, 2)).await.unwrap();
    assert!(beyond.items.is_empty());
    assert_eq!(beyond.total, 5);
    let nobody = store.page(Uuid::new_v4(), page(1, 20)).await.unwrap();
    assert_eq!((nobody.items.len(), nobody.total), (0, 0));
}

async fn pending_messages_are_due_only_with_a_known_address(db: Db) {
    let store = migrated(db.clone()).await;
    let (ada, bob, cy) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    orders(&db, ada, 2, Delivery::Pending).await;
    orders(&db, bob, 1, Delivery::Pending).await;
    orders(&db, cy, 1, Delivery::Stored).await;
    assert!(store.due(i64::MAX, 10).await.unwrap().is_empty());
    store
        .remember_address(ada, "old@example.com")
        .await
        .unwrap();
    store
        .remember_address(ada, "ada@example.com")
        .await
        .unwrap();
    store.remember_address(cy, "cy@example.com").await.unwrap();
    let due = store.due(i64::MAX, 10).await.unwrap();
    assert_eq!(due.len(), 2, "{due:?}");
    assert!(due
        .iter()
        .all(|m| m.email == "ada@example.com" && m.attempts == 0));
    assert!(due[0].text_body.contains("Kettle") && due[0].html_body.contains("<td>Kettle</td>"));
    assert_eq!(store.due(i64::MAX, 1).await.unwrap().len(), 1);
    // Not due before they were written.
    assert!(store.due(0, 10).await.unwrap().is_empty());
}

/// A store with one pending message of a shopper whose address is known, claimed by this
/// attempt at `now` for a minute: the store, the shopper, the message and `now`.
async fn one_claimed(db: Db) -> (notifications::Store, Uuid, Uuid, i64) {
    let store = migrated(db.clone()).await;
    let user = Uuid::new_v4();
    orders(&db, user, 1, Delivery::Pending).await;
    store
        .remember_address(user, "ada@example.com")
        .await
        .unwrap();
    let now = brigade_chassis::time::now_ms();
    let id = store.due(now, 10).await.unwrap()[0].id;
    assert!(store.claim(id, now, now + 60_000).await.unwrap());
    (store, user, id, now)
}

async fn a_claimed_message_is_not_claimed_again_and_a_sent_one_is_never_due(db: Db) {
    let (store, user, id, now) = one_claimed(db).await;
    // Another instance in the same moment finds it claimed, and not due.
    assert!(!store.claim(id, now, now + 60_000).await.unwrap());
    assert!(store.due(now, 10).await.unwrap().is_empty());
    store.mark_sent(id, now).await.unwrap();
    assert!(store.due(i64::MAX, 10).await.unwrap().is_empty());
    assert!(!store.claim(id, i64::MAX, i64::MAX).await.unwrap());
    // A late failure report of another attempt changes nothing.
    store.mark_failed(id, 0, "late").await.unwrap();
    let message = store.message(user, id).await.unwrap().unwrap();
    assert_eq!(message.delivery, Delivery::Sent);
}

async fn a_failed_attempt_waits_until_its_retry(db: Db) {
    let (store, user, id, now) = one_claimed(db).await;
    store
        .mark_failed(id, now + 5_000, "451 busy")
        .await
        .unwrap();
    assert!(store.due(now + 4_999, 10).await.unwrap().is_empty());
    let due = store.due(now + 5_000, 10).await.unwrap();
    assert_eq!((due.len(), due[0].attempts), (1, 1));
    let message = store.message(user, id).await.unwrap().unwrap();
    assert_eq!(message.delivery, Delivery::Pending);
}

/// The twin migration files build the same tables, columns, keys and indexes on both engines.
#[tokio::test]
async fn the_migrations_build_the_same_schema_on_both_engines() {
    brigade_chassis::testing::schema::assert_migrations_agree(notifications::MIGRATIONS).await;
}
