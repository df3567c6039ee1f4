//! The store suite: each test is written once, as a function of a fresh store, and run against
//! SQLite and PostgreSQL (skipped with a message when PostgreSQL is not reachable, unless CI).

use brigade_chassis::db::Db;
use cart::lines::{self, Line, RuleError};
use cart::store::change_in;
use cart::Store;
use uuid::Uuid;

use crate::support::{clear, migrated, product, quantities, remove, second_pool, set};

brigade_chassis::store_suite!(
    a_cart_never_changed_is_empty_at_version_0,
    lines_are_added_changed_removed_and_cleared_each_change_counted,
    a_change_that_changes_nothing_is_not_counted,
    a_refused_change_writes_nothing,
    carts_of_different_users_are_apart,
    concurrent_changes_from_two_instances_lose_nothing,
    a_change_inside_a_callers_transaction_commits_or_rolls_back_with_it,
);

async fn a_cart_never_changed_is_empty_at_version_0(db: Db) {
    let store = migrated(db).await;
    let cart = store.load(Uuid::new_v4()).await.unwrap();
    assert_eq!(cart, lines::StoredCart::empty());
}

async fn lines_are_added_changed_removed_and_cleared_each_change_counted(db: Db) {
    let store = migrated(db).await;
    let user = Uuid::new_v4();
    let first = set(&store, user, 2, 1).await;
    assert_eq!(first.version, 1);
    assert!(first.updated_at_ms > 0);
    set(&store, user, 1, 3).await;
    // Changing the first line keeps its place: lines stay in the order first added.
    let changed = set(&store, user, 2, 5).await;
    assert_eq!(changed.version, 3);
    assert_eq!(
        quantities(&changed),
        [("TST-0002".into(), 5), ("TST-0001".into(), 3)]
    );
    let loaded = store.load(user).await.unwrap();
    assert_eq!(loaded, changed);
    assert_eq!(loaded.lines[0].unit_price.amount_minor, 200);

    let removed = remove(&store, user, product(2, 0, "EUR").id).await;
    assert!(removed.changed);
    assert_eq!(removed.cart.version, 4);
    assert_eq!(quantities(&removed.cart), [("TST-0001".into(), 3)]);

    let cleared = clear(&store, user).await;
    assert_eq!((cleared.cart.version, cleared.cart.lines.len()), (5, 0));
    assert_eq!(store.load(user).await.unwrap(), cleared.cart);
}

async fn a_change_that_changes_nothing_is_not_counted(db: Db) {
    let store = migrated(db).await;
    let user = Uuid::new_v4();
    // Nothing to remove from a cart that does not exist: it still does not.
    let nothing = clear(&store, user).await;
    assert!(!nothing.changed);
    assert_eq!(nothing.cart, lines::StoredCart::empty());

    let before = set(&store, user, 1, 2).await;
    let same = set(&store, user, 1, 2).await;
    assert_eq!(same, before);
    let absent = remove(&store, user, Uuid::new_v4()).await;
    assert!(!absent.changed);
    assert_eq!(absent.cart, before);
}

async fn a_refused_change_writes_nothing(db: Db) {
    let store = migrated(db).await;
    let user = Uuid::new_v4();
    let before = set(&store, user, 1, 2).await;
    let refused = store
        .change(user, |lines, version| {
            // Half of the change done in memory, then refused: none of it may be written.
            lines::set_quantity(lines, &product(2, 100, "EUR"), 1, version)?;
            lines::set_quantity(lines, &product(3, 100, "USD"), 1, version)
        })
        .await
        .unwrap();
    assert!(matches!(refused, Err(RuleError::CurrencyMismatch { .. })));
    assert_eq!(store.load(user).await.unwrap(), before);
}

async fn carts_of_different_users_are_apart(db: Db) {
    let store = migrated(db).await;
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    set(&store, alice, 1, 1).await;
    set(&store, bob, 2, 7).await;
    remove(&store, bob, product(1, 0, "EUR").id).await;
    assert_eq!(
        quantities(&store.load(alice).await.unwrap()),
        [("TST-0001".into(), 1)]
    );
    assert_eq!(
        quantities(&store.load(bob).await.unwrap()),
        [("TST-0002".into(), 7)]
    );
}

async fn concurrent_changes_from_two_instances_lose_nothing(db: Db) {
    let other = second_pool(&db).await;
    let stores = [migrated(db).await, Store::new(other.clone())];
    let user = Uuid::new_v4();
    const PRODUCTS: u128 = 24;
    let mut tasks = Vec::new();
    for n in 1..=PRODUCTS {
        let store = stores[n as usize % 2].clone();
        tasks.push(tokio::spawn(async move { set(&store, user, n, 1).await }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let cart = stores[0].load(user).await.unwrap();
    assert_eq!(cart.lines.len(), PRODUCTS as usize, "a line was lost");
    assert_eq!(cart.version, PRODUCTS as i64, "a change was not counted");
    // Every line got its own place.
    let mut places: Vec<i64> = cart.lines.iter().map(|l| l.added_version).collect();
    places.dedup();
    assert_eq!(places.len(), PRODUCTS as usize);
    other.close().await;
}

/// An edit adding one unit of product `n` (priced in EUR).
fn add(n: u128) -> impl FnOnce(&mut Vec<Line>, i64) -> Result<(), RuleError> {
    let product = product(n, 100, "EUR");
    move |lines, version| lines::set_quantity(lines, &product, 1, version)
}

async fn a_change_inside_a_callers_transaction_commits_or_rolls_back_with_it(db: Db) {
    let store = migrated(db.clone()).await;
    let user = Uuid::new_v4();
    let before = set(&store, user, 1, 2).await;

    // Rolled back with the caller's transaction: nothing of it stays.
    let mut tx = db.begin_write().await.unwrap();
    let edited = change_in(&mut tx, user, add(2)).await.unwrap().unwrap();
    assert!(edited.changed);
    tx.rollback().await.unwrap();
    assert_eq!(store.load(user).await.unwrap(), before);

    // Refused, then changing nothing, then a real change, in one caller's transaction: only
    // the real change is written, and counted once.
    let mut tx = db.begin_write().await.unwrap();
    let refused = change_in(&mut tx, user, |lines, version| {
        lines::set_quantity(lines, &product(2, 100, "EUR"), 1, version)?;
        lines::set_quantity(lines, &product(3, 100, "USD"), 1, version)
    })
    .await
    .unwrap();
    assert!(matches!(refused, Err(RuleError::CurrencyMismatch { .. })));
    let idle = change_in(&mut tx, user, |lines, _| {
        lines::remove(lines, Uuid::new_v4());
        Ok::<_, RuleError>(())
    })
    .await
    .unwrap()
    .unwrap();
    assert!(!idle.changed);
    let edited = change_in(&mut tx, user, add(4)).await.unwrap().unwrap();
    assert!(edited.changed);
    tx.commit().await.unwrap();
    let after = store.load(user).await.unwrap();
    assert_eq!(
        quantities(&after),
        [("TST-0001".into(), 2), ("TST-0004".into(), 1)]
    );
    assert_eq!(after.version, before.version + 1);

    // A cart that never existed still does not after an edit that changed nothing.
    let stranger = Uuid::new_v4();
    let mut tx = db.begin_write().await.unwrap();
    let idle = change_in(&mut tx, stranger, |lines, _| {
        lines.clear();
        Ok::<_, RuleError>(())
    })
    .await
    .unwrap()
    .unwrap();
    assert!(!idle.changed);
    tx.commit().await.unwrap();
    assert_eq!(
        store.load(stranger).await.unwrap(),
        lines::StoredCart::empty()
    );
}

/// The twin migration files build the same tables, columns, keys and indexes on both engines.
#[tokio::test]
async fn the_migrations_build_the_same_schema_on_both_engines() {
    brigade_chassis::testing::schema::assert_migrations_agree(cart::MIGRATIONS).await;
}
