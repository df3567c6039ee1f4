//! The store suite: each test is written once, as a function of a fresh store, and run against
//! SQLite and PostgreSQL (skipped with a message when PostgreSQL is not reachable, unless CI).
//! Every scenario ends with a clean audit.

use brigade_chassis::db::Db;
use brigade_chassis::events::Outbox;
use inventory::seed::{self, Loaded};
use inventory::store::{
    CommitError, ReleaseError, ReserveError, Reserved, SetStockError, StockSet,
};
use inventory::Store;
use inventory_api::{ReservationStatus, ShortLine};
use uuid::Uuid;

use crate::support::{
    assert_audit_clean, counters, lines, migrated, request, second_pool, stock, NOW,
};

brigade_chassis::store_suite!(
    a_reservation_takes_every_line_or_none,
    an_unknown_sku_reserves_nothing,
    repeating_a_reservation_answers_it_and_other_lines_conflict,
    commit_and_release_are_idempotent_and_refuse_each_other,
    the_sweep_expires_held_reservations_past_their_time,
    committing_an_expired_reservation_takes_the_units_again_if_they_are_there,
    fifty_orders_racing_for_ten_units_on_two_instances_get_exactly_ten,
    sweeps_commits_and_releases_racing_on_two_instances_keep_the_promise,
    stock_is_set_created_and_never_below_what_is_promised,
    levels_keep_the_order_asked_and_list_the_missing,
    the_sample_stock_is_loaded_once_however_many_start,
);

fn short(sku: &str, requested: u32, available: u64) -> ShortLine {
    ShortLine {
        sku: sku.to_owned(),
        requested,
        available,
    }
}

async fn a_reservation_takes_every_line_or_none(db: Db) {
    let store = migrated(db).await;
    stock(&store, &[("A", 5), ("B", 1), ("C", 2)]).await;
    let order = Uuid::new_v4();
    let refused = store
        .reserve(order, &request(&[("A", 2), ("B", 2), ("C", 3)], None), NOW)
        .await
        .unwrap_err();
    match refused {
        ReserveError::OutOfStock { short: lines } => {
            assert_eq!(lines, vec![short("B", 2, 1), short("C", 3, 2)]);
        }
        other => panic!("{other:?}"),
    }
    // Nothing held, and nothing recorded: the order may try again.
    for sku in ["A", "B", "C"] {
        assert_eq!(counters(&store, sku).await.1, 0, "{sku}");
    }
    assert_eq!(store.reservation(order).await.unwrap(), None);
    assert_audit_clean(&store).await;

    stock(&store, &[("B", 2), ("C", 3)]).await;
    let reserved = store
        .reserve(order, &request(&[("A", 2), ("B", 2), ("C", 3)], None), NOW)
        .await
        .unwrap();
    let Reserved::Now(reservation) = reserved else {
        panic!("{reserved:?}")
    };
    assert_eq!(reservation.status, ReservationStatus::Held);
    assert_eq!(reservation.lines, lines(&[("A", 2), ("B", 2), ("C", 3)]));
    assert_eq!(
        reservation.expires_at_ms,
        NOW + inventory_api::DEFAULT_TTL_MS
    );
    assert_eq!(store.reservation(order).await.unwrap(), Some(reservation));
    assert_eq!(counters(&store, "A").await, (5, 2, 0, 3));
    assert_eq!(counters(&store, "B").await, (2, 2, 0, 0));
    assert_eq!(counters(&store, "C").await, (3, 3, 0, 0));
    assert_audit_clean(&store).await;
}

async fn an_unknown_sku_reserves_nothing(db: Db) {
    let store = migrated(db).await;
    stock(&store, &[("A", 5)]).await;
    let order = Uuid::new_v4();
    match store
        .reserve(
            order,
            &request(&[("A", 1), ("NOPE-1", 1), ("NOPE-2", 1)], None),
            NOW,
        )
        .await
    {
        Err(ReserveError::UnknownSkus(skus)) => assert_eq!(skus, ["NOPE-1", "NOPE-2"]),
        other => panic!("{other:?}"),
    }
    assert_eq!(counters(&store, "A").await, (5, 0, 0, 5));
    assert_eq!(store.reservation(order).await.unwrap(), None);
    assert_audit_clean(&store).await;
}

async fn repeating_a_reservation_answers_it_and_other_lines_conflict(db: Db) {
    let store = migrated(db).await;
    stock(&store, &[("A", 5), ("B", 5)]).await;
    let order = Uuid::new_v4();
    let Reserved::Now(first) = store
        .reserve(order, &request(&[("A", 2), ("B", 1)], None), NOW)
        .await
        .unwrap()
    else {
        panic!("not reserved")
    };
    // The same lines in another order, later, with another ttl: the same reservation.
    let again = store
        .reserve(order, &request(&[("B", 1), ("A", 2)], Some(5000)), NOW + 10)
        .await
        .unwrap();
    assert_eq!(again, Reserved::Before(first.clone()));
    assert_eq!(counters(&store, "A").await, (5, 2, 0, 3));

    for other in [
        request(&[("A", 3), ("B", 1)], None),
        request(&[("A", 2)], None),
        request(&[("A", 2), ("B", 1), ("C", 1)], None),
    ] {
        match store.reserve(order, &other, NOW).await {
            Err(ReserveError::Mismatch { existing }) => assert_eq!(existing, first),
            result => panic!("{result:?}"),
        }
    }
    assert_eq!(counters(&store, "A").await, (5, 2, 0, 3));
    assert_eq!(counters(&store, "B").await, (5, 1, 0, 4));
    assert_audit_clean(&store).await;
}

async fn commit_and_release_are_idempotent_and_refuse_each_other(db: Db) {
    let store = migrated(db).await;
    stock(&store, &[("A", 5)]).await;
    let (sold, returned) = (Uuid::new_v4(), Uuid::new_v4());
    store
        .reserve(sold, &request(&[("A", 2)], None), NOW)
        .await
        .unwrap();
    store
        .reserve(returned, &request(&[("A", 1)], None), NOW)
        .await
        .unwrap();
    assert_eq!(counters(&store, "A").await, (5, 3, 0, 2));

    let committed = store.commit(sold, NOW + 1).await.unwrap();
    assert_eq!(committed.status, ReservationStatus::Committed);
    assert_eq!(committed.updated_at_ms, NOW + 1);
    assert_eq!(store.commit(sold, NOW + 2).await.unwrap(), committed);
    assert!(matches!(
        store.release(sold, NOW + 3).await,
        Err(ReleaseError::AlreadyCommitted(r)) if r == committed
    ));
    assert_eq!(counters(&store, "A").await, (5, 1, 2, 2));

    let released = store.release(returned, NOW + 4).await.unwrap();
    assert_eq!(released.status, ReservationStatus::Released);
    assert_eq!(store.release(returned, NOW + 5).await.unwrap(), released);
    assert_eq!(counters(&store, "A").await, (5, 0, 2, 3));
    // A released reservation is answered as it is when reserved again, not reserved again.
    let repeat = store
        .reserve(returned, &request(&[("A", 1)], None), NOW + 6)
        .await
        .unwrap();
    assert_eq!(repeat, Reserved::Before(released));
    assert_eq!(counters(&store, "A").await, (5, 0, 2, 3));

    let unknown = Uuid::new_v4();
    assert!(matches!(
        store.commit(unknown, NOW).await,
        Err(CommitError::NotFound)
    ));
    assert!(matches!(
        store.release(unknown, NOW).await,
        Err(ReleaseError::NotFound)
    ));
    assert_eq!(store.reservation(unknown).await.unwrap(), None);
    assert_audit_clean(&store).await;
}

async fn the_sweep_expires_held_reservations_past_their_time(db: Db) {
    let store = migrated(db).await;
    stock(&store, &[("A", 10), ("B", 10)]).await;
    let (short_lived, long_lived, sold) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    store
        .reserve(
            short_lived,
            &request(&[("A", 3), ("B", 1)], Some(1000)),
            NOW,
        )
        .await
        .unwrap();
    store
        .reserve(long_lived, &request(&[("A", 2)], Some(60_000)), NOW)
        .await
        .unwrap();
    store
        .reserve(sold, &request(&[("B", 4)], Some(1000)), NOW)
        .await
        .unwrap();
    store.commit(sold, NOW + 10).await.unwrap();

    assert_eq!(store.expire_due(NOW + 999).await.unwrap(), 0);
    assert_eq!(counters(&store, "A").await, (10, 5, 0, 5));
    assert_eq!(store.expire_due(NOW + 1000).await.unwrap(), 1);
    let expired = store.reservation(short_lived).await.unwrap().unwrap();
    assert_eq!(expired.status, ReservationStatus::Expired);
    assert_eq!(expired.updated_at_ms, NOW + 1000);
    assert_eq!(counters(&store, "A").await, (10, 2, 0, 8));
    assert_eq!(counters(&store, "B").await, (10, 0, 4, 6));
    // A second sweep finds nothing; committed and longer reservations are left alone.
    assert_eq!(store.expire_due(NOW + 1000).await.unwrap(), 0);
    assert_eq!(
        store.reservation(sold).await.unwrap().unwrap().status,
        ReservationStatus::Committed
    );
    // Releasing or reserving an expired reservation again changes nothing.
    assert_eq!(
        store.release(short_lived, NOW + 2000).await.unwrap(),
        expired
    );
    assert_eq!(
        store
            .reserve(
                short_lived,
                &request(&[("A", 3), ("B", 1)], None),
                NOW + 2000
            )
            .await
            .unwrap(),
        Reserved::Before(expired)
    );
    assert_eq!(counters(&store, "A").await, (10, 2, 0, 8));
    assert_audit_clean(&store).await;

    // More than one batch at once.
    stock(&store, &[("C", 1000)]).await;
    for _ in 0..250 {
        store
            .reserve(Uuid::new_v4(), &request(&[("C", 1)], Some(1000)), NOW)
            .await
            .unwrap();
    }
    assert_eq!(store.expire_due(NOW + 70_000).await.unwrap(), 251);
    assert_eq!(counters(&store, "C").await, (1000, 0, 0, 1000));
    assert_eq!(counters(&store, "A").await, (10, 0, 0, 10));
    assert_audit_clean(&store).await;
}

async fn committing_an_expired_reservation_takes_the_units_again_if_they_are_there(db: Db) {
    let store = migrated(db).await;
    stock(&store, &[("A", 3), ("B", 5)]).await;
    let (late, other) = (Uuid::new_v4(), Uuid::new_v4());
    store
        .reserve(late, &request(&[("A", 3), ("B", 1)], Some(1000)), NOW)
        .await
        .unwrap();
    store.expire_due(NOW + 1000).await.unwrap();
    store
        .reserve(other, &request(&[("A", 2)], None), NOW + 1001)
        .await
        .unwrap();

    match store.commit(late, NOW + 1002).await {
        Err(CommitError::Gone {
            reservation,
            short: lines,
        }) => {
            assert_eq!(reservation.status, ReservationStatus::Expired);
            assert_eq!(lines, vec![short("A", 3, 1)]);
        }
        result => panic!("{result:?}"),
    }
    assert_eq!(counters(&store, "A").await, (3, 2, 0, 1));
    assert_eq!(counters(&store, "B").await, (5, 0, 0, 5));
    assert_eq!(
        store.reservation(late).await.unwrap().unwrap().status,
        ReservationStatus::Expired
    );
    assert_audit_clean(&store).await;

    // Once the units are back, the late commit takes them, all lines at once.
    store.release(other, NOW + 1003).await.unwrap();
    let committed = store.commit(late, NOW + 1004).await.unwrap();
    assert_eq!(committed.status, ReservationStatus::Committed);
    assert_eq!(counters(&store, "A").await, (3, 0, 3, 0));
    assert_eq!(counters(&store, "B").await, (5, 0, 1, 4));
    assert_eq!(store.commit(late, NOW + 1005).await.unwrap(), committed);
    assert_audit_clean(&store).await;
}

async fn fifty_orders_racing_for_ten_units_on_two_instances_get_exactly_ten(db: Db) {
    let other = Store::new(second_pool(&db).await, Outbox::new());
    let store = migrated(db).await;
    stock(&store, &[("HOT-1", 10)]).await;
    let attempts = (0..50).map(|n| {
        let instance = if n % 2 == 0 {
            store.clone()
        } else {
            other.clone()
        };
        tokio::spawn(async move {
            instance
                .reserve(Uuid::new_v4(), &request(&[("HOT-1", 1)], None), NOW)
                .await
        })
    });
    let (mut reserved, mut out_of_stock) = (0, 0);
    for attempt in attempts.collect::<Vec<_>>() {
        match attempt.await.unwrap() {
            Ok(Reserved::Now(_)) => reserved += 1,
            Err(ReserveError::OutOfStock { short: lines }) => {
                assert_eq!(lines, vec![short("HOT-1", 1, 0)]);
                out_of_stock += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((reserved, out_of_stock), (10, 40));
    assert_eq!(counters(&store, "HOT-1").await, (10, 10, 0, 0));
    assert_audit_clean(&store).await;
    assert_audit_clean(&other).await;
}

async fn sweeps_commits_and_releases_racing_on_two_instances_keep_the_promise(db: Db) {
    let other = Store::new(second_pool(&db).await, Outbox::new());
    let store = migrated(db).await;
    stock(&store, &[("A", 100), ("B", 100), ("C", 100)]).await;
    let mut orders = Vec::new();
    for n in 0..30u32 {
        let order = Uuid::new_v4();
        // Lines over several SKUs in varying orders, so that lock order matters.
        let items: Vec<(&str, u32)> = match n % 3 {
            0 => vec![("A", 1), ("B", 2)],
            1 => vec![("C", 1), ("A", 2)],
            _ => vec![("B", 1), ("C", 2), ("A", 1)],
        };
        store
            .reserve(order, &request(&items, Some(1000)), NOW)
            .await
            .unwrap();
        orders.push(order);
    }
    let later = NOW + 1000;
    let mut tasks = Vec::new();
    for (n, order) in orders.iter().copied().enumerate() {
        let instance = if n % 2 == 0 {
            store.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            if n % 3 == 0 {
                instance
                    .release(order, later)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            } else {
                // Expired or not, the units are there to take: this commit always succeeds.
                instance
                    .commit(order, later)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
        }));
        if n % 10 == 0 {
            for sweeper in [store.clone(), other.clone()] {
                tasks.push(tokio::spawn(async move {
                    sweeper
                        .expire_due(later)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string())
                }));
            }
        }
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    store.expire_due(later).await.unwrap();
    for (n, order) in orders.iter().enumerate() {
        let status = store.reservation(*order).await.unwrap().unwrap().status;
        if n % 3 == 0 {
            assert!(
                matches!(
                    status,
                    ReservationStatus::Released | ReservationStatus::Expired
                ),
                "{status}"
            );
        } else {
            assert_eq!(status, ReservationStatus::Committed);
        }
    }
    for sku in ["A", "B", "C"] {
        assert_eq!(counters(&store, sku).await.1, 0, "{sku}");
    }
    assert_audit_clean(&store).await;
}

async fn stock_is_set_created_and_never_below_what_is_promised(db: Db) {
    let store = migrated(db).await;
    let (level, outcome) = store.set_stock("NEW-1", 4, NOW).await.unwrap();
    assert_eq!(outcome, StockSet::Created);
    assert_eq!((level.stock, level.available), (4, 4));
    let (sold, held) = (Uuid::new_v4(), Uuid::new_v4());
    store
        .reserve(sold, &request(&[("NEW-1", 2)], None), NOW)
        .await
        .unwrap();
    store.commit(sold, NOW).await.unwrap();
    store
        .reserve(held, &request(&[("NEW-1", 1)], None), NOW)
        .await
        .unwrap();

    match store.set_stock("NEW-1", 2, NOW).await {
        Err(SetStockError::BelowReserved {
            wanted,
            held,
            committed,
        }) => assert_eq!((wanted, held, committed), (2, 1, 2)),
        other => panic!("{other:?}"),
    }
    assert_eq!(counters(&store, "NEW-1").await, (4, 1, 2, 1));
    let (level, outcome) = store.set_stock("NEW-1", 3, NOW).await.unwrap();
    assert_eq!(outcome, StockSet::Updated);
    assert_eq!(
        (level.stock, level.held, level.committed, level.available),
        (3, 1, 2, 0)
    );
    assert_eq!(level, store.level("NEW-1").await.unwrap().unwrap());
    let (level, _) = store.set_stock("NEW-1", 50, NOW).await.unwrap();
    assert_eq!(level.available, 47);
    assert_audit_clean(&store).await;
}

async fn levels_keep_the_order_asked_and_list_the_missing(db: Db) {
    let store = migrated(db).await;
    stock(&store, &[("A", 1), ("B", 2), ("C", 3)]).await;
    let skus: Vec<String> = ["C", "X", "A", "Y"].map(String::from).to_vec();
    let levels = store.levels(&skus).await.unwrap();
    let found: Vec<(&str, u64)> = levels
        .items
        .iter()
        .map(|l| (l.sku.as_str(), l.stock))
        .collect();
    assert_eq!(found, [("C", 3), ("A", 1)]);
    assert_eq!(levels.missing, ["X", "Y"]);
    assert_eq!(store.level("X").await.unwrap(), None);
}

async fn the_sample_stock_is_loaded_once_however_many_start(db: Db) {
    let other = second_pool(&db).await;
    let store = migrated(db.clone()).await;
    let outbox = Outbox::new();
    let (a, b) = tokio::join!(
        seed::ensure_sample_stock(&db, &outbox),
        seed::ensure_sample_stock(&other, &outbox)
    );
    let expected = seed::sample_stock();
    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|o| matches!(o, Loaded::Before));
    assert_eq!(
        outcomes,
        [
            Loaded::Now {
                skus: expected.len() as u64
            },
            Loaded::Before
        ]
    );
    assert!(expected.len() >= 1000);
    for (sku, units) in expected.iter().step_by(97) {
        assert_eq!(
            counters(&store, sku).await,
            (u64::from(*units), 0, 0, u64::from(*units))
        );
        assert!((5..=200).contains(units));
    }
    // Stock changed afterwards is kept by later starts.
    store.set_stock(&expected[0].0, 1, NOW).await.unwrap();
    assert_eq!(
        seed::ensure_sample_stock(&db, &Outbox::new())
            .await
            .unwrap(),
        Loaded::Before
    );
    assert_eq!(counters(&store, &expected[0].0).await.0, 1);
    assert_audit_clean(&store).await;
}

/// The twin migration files build the same tables, columns, keys and indexes on both engines.
#[tokio::test]
async fn the_migrations_build_the_same_schema_on_both_engines() {
    brigade_chassis::testing::schema::assert_migrations_agree(inventory::MIGRATIONS).await;
}
