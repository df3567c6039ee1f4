//! The events the inventory publishes (`StockChanged` after every change of a SKU's numbers, none
//! after a change that did not happen) and the one it applies (`OrderCancelled` releases a held
//! reservation once), each test run against SQLite and PostgreSQL.

use brigade_chassis::db::Db;
use brigade_chassis::events::{stored_events, ApplyOutcome, Envelope, Event, Inbox, Outbox};
use inventory::seed::{self, Loaded};
use inventory::store::{ReleaseError, ReserveError};
use inventory::Store;
use inventory_api::events::StockChanged;
use inventory_api::ReservationStatus;
use orders_api::events::OrderCancelled;
use orders_api::{CancelReason, Money, OrderLine};
use uuid::Uuid;

use crate::support::{assert_audit_clean, counters, migrated, request, stock, NOW};

brigade_chassis::store_suite!(
    every_change_of_a_skus_numbers_announces_its_new_counters,
    a_change_that_does_not_happen_announces_nothing,
    the_sweep_announces_the_units_it_returns,
    the_sample_stock_announces_each_sku_it_creates_once,
    an_order_cancelled_releases_its_held_reservation_once,
    an_order_cancelled_leaves_other_reservations_alone,
);

/// `(sku, stock, held, committed, available)`.
type Counters<'a> = (&'a str, u64, u64, u64, u64);

fn changed((sku, stock, held, committed, available): Counters<'_>) -> StockChanged {
    StockChanged {
        sku: sku.to_owned(),
        stock,
        held,
        committed,
        available,
    }
}

/// The events in the outbox after the first `skip`, checked to be well-formed `StockChanged`
/// events whose subject is their SKU.
async fn announced_after(store: &Store, skip: usize) -> Vec<StockChanged> {
    let events = stored_events(store.db()).await.unwrap();
    events
        .iter()
        .skip(skip)
        .map(|envelope| {
            assert_eq!(envelope.event_type, StockChanged::type_name());
            assert_eq!(
                (envelope.source.as_str(), envelope.schemaversion),
                ("inventory", 1)
            );
            let event = envelope.decode::<StockChanged>().unwrap();
            assert_eq!(envelope.subject, event.sku);
            event
        })
        .collect()
}

async fn outbox_len(store: &Store) -> usize {
    stored_events(store.db()).await.unwrap().len()
}

async fn every_change_of_a_skus_numbers_announces_its_new_counters(db: Db) {
    let store = migrated(db).await;
    // Created, then set to another total.
    store.set_stock("B", 5, NOW).await.unwrap();
    store.set_stock("A", 4, NOW).await.unwrap();
    store.set_stock("A", 6, NOW).await.unwrap();
    assert_eq!(
        announced_after(&store, 0).await,
        [
            changed(("B", 5, 0, 0, 5)),
            changed(("A", 4, 0, 0, 4)),
            changed(("A", 6, 0, 0, 6)),
        ]
    );

    // A reservation: one event per SKU it holds units of, in SKU order.
    let (sold, returned) = (Uuid::new_v4(), Uuid::new_v4());
    let before = outbox_len(&store).await;
    store
        .reserve(sold, &request(&[("B", 2), ("A", 1)], None), NOW)
        .await
        .unwrap();
    assert_eq!(
        announced_after(&store, before).await,
        [changed(("A", 6, 1, 0, 5)), changed(("B", 5, 2, 0, 3))]
    );
    let before = outbox_len(&store).await;
    store
        .reserve(returned, &request(&[("A", 3)], None), NOW)
        .await
        .unwrap();
    assert_eq!(
        announced_after(&store, before).await,
        [changed(("A", 6, 4, 0, 2))]
    );

    // A commit sells the units; a release gives them back.
    let before = outbox_len(&store).await;
    store.commit(sold, NOW + 1).await.unwrap();
    assert_eq!(
        announced_after(&store, before).await,
        [changed(("A", 6, 3, 1, 2)), changed(("B", 5, 0, 2, 3))]
    );
    let before = outbox_len(&store).await;
    store.release(returned, NOW + 2).await.unwrap();
    assert_eq!(
        announced_after(&store, before).await,
        [changed(("A", 6, 0, 1, 5))]
    );

    // Each SKU's events are numbered in the order of its changes, and the last one is the SKU
    // as it is.
    let events = stored_events(store.db()).await.unwrap();
    let seqs_of = |sku: &str| {
        events
            .iter()
            .filter(|e| e.subject == sku)
            .map(|e| e.subjectseq)
            .collect::<Vec<_>>()
    };
    assert_eq!(seqs_of("A"), [1, 2, 3, 4, 5, 6]);
    assert_eq!(seqs_of("B"), [1, 2, 3]);
    for sku in ["A", "B"] {
        let last = events.iter().rev().find(|e| e.subject == sku).unwrap();
        let level = store.level(sku).await.unwrap().unwrap();
        assert_eq!(last.decode::<StockChanged>().unwrap(), level.into());
    }
    assert_audit_clean(&store).await;
}

async fn a_change_that_does_not_happen_announces_nothing(db: Db) {
    let store = migrated(db).await;
    stock(&store, &[("A", 3), ("B", 1)]).await;
    let order = Uuid::new_v4();
    store
        .reserve(order, &request(&[("A", 2)], None), NOW)
        .await
        .unwrap();
    let before = outbox_len(&store).await;

    // Repeats: the same reservation, the same stock, a release of a released reservation, a
    // commit of a committed one.
    store
        .reserve(order, &request(&[("A", 2)], None), NOW + 1)
        .await
        .unwrap();
    store.set_stock("A", 3, NOW + 1).await.unwrap();
    let released = Uuid::new_v4();
    store
        .reserve(released, &request(&[("B", 1)], None), NOW)
        .await
        .unwrap();
    store.release(released, NOW + 1).await.unwrap();
    let after_release = outbox_len(&store).await;
    assert_eq!(after_release, before + 2, "reserve and release of B");
    store.release(released, NOW + 2).await.unwrap();
    store.commit(order, NOW + 2).await.unwrap();
    let after_commit = outbox_len(&store).await;
    assert_eq!(after_commit, after_release + 1, "the commit of A");
    store.commit(order, NOW + 3).await.unwrap();

    // Refusals: out of stock, an unknown SKU, other lines for a reserved order, stock below
    // what is promised, releasing a committed reservation, an unknown order.
    let refused = store
        .reserve(Uuid::new_v4(), &request(&[("A", 1), ("B", 2)], None), NOW)
        .await;
    assert!(
        matches!(refused, Err(ReserveError::OutOfStock { .. })),
        "{refused:?}"
    );
    let refused = store
        .reserve(Uuid::new_v4(), &request(&[("A", 1), ("X", 1)], None), NOW)
        .await;
    assert!(
        matches!(refused, Err(ReserveError::UnknownSkus(_))),
        "{refused:?}"
    );
    let refused = store.reserve(order, &request(&[("A", 1)], None), NOW).await;
    assert!(
        matches!(refused, Err(ReserveError::Mismatch { .. })),
        "{refused:?}"
    );
    assert!(store.set_stock("A", 1, NOW).await.is_err());
    let refused = store.release(order, NOW + 4).await;
    assert!(
        matches!(refused, Err(ReleaseError::AlreadyCommitted(_))),
        "{refused:?}"
    );
    let refused = store.release(Uuid::new_v4(), NOW + 4).await;
    assert!(
        matches!(refused, Err(ReleaseError::NotFound)),
        "{refused:?}"
    );

    assert_eq!(outbox_len(&store).await, after_commit);
    assert_audit_clean(&store).await;
}

async fn the_sweep_announces_the_units_it_returns(db: Db) {
    let store = migrated(db).await;
    stock(&store, &[("A", 10), ("B", 10)]).await;
    for items in [&[("A", 1), ("B", 2)][..], &[("A", 3)][..]] {
        store
            .reserve(Uuid::new_v4(), &request(items, Some(1000)), NOW)
            .await
            .unwrap();
    }
    let before = outbox_len(&store).await;
    assert_eq!(store.expire_due(NOW + 999).await.unwrap(), 0);
    assert_eq!(outbox_len(&store).await, before);

    // Both expire in one batch: one event per SKU, with the units of both returned.
    assert_eq!(store.expire_due(NOW + 1000).await.unwrap(), 2);
    assert_eq!(
        announced_after(&store, before).await,
        [changed(("A", 10, 0, 0, 10)), changed(("B", 10, 0, 0, 10))]
    );
    // A later sweep finds nothing to expire and announces nothing.
    assert_eq!(store.expire_due(NOW + 5000).await.unwrap(), 0);
    assert_eq!(outbox_len(&store).await, before + 2);
    assert_audit_clean(&store).await;
}

async fn the_sample_stock_announces_each_sku_it_creates_once(db: Db) {
    let store = migrated(db.clone()).await;
    // A SKU stocked another way is kept, and not announced again by the seed.
    let sample = seed::sample_stock();
    let (kept, _) = &sample[0];
    store.set_stock(kept, 1, NOW).await.unwrap();

    let outbox = Outbox::new();
    let loaded = seed::ensure_sample_stock(&db, &outbox).await.unwrap();
    assert_eq!(
        loaded,
        Loaded::Now {
            skus: sample.len() as u64 - 1
        }
    );
    let mut announced = announced_after(&store, 1).await;
    announced.sort_by(|a, b| a.sku.cmp(&b.sku));
    let mut expected: Vec<StockChanged> = sample[1..]
        .iter()
        .map(|(sku, units)| changed((sku, u64::from(*units), 0, 0, u64::from(*units))))
        .collect();
    expected.sort_by(|a, b| a.sku.cmp(&b.sku));
    assert_eq!(announced, expected);

    // A second start finds it loaded and announces nothing.
    let before = outbox_len(&store).await;
    assert_eq!(
        seed::ensure_sample_stock(&db, &outbox).await.unwrap(),
        Loaded::Before
    );
    assert_eq!(outbox_len(&store).await, before);
}

/// The `OrderCancelled` orders would publish for `order_id`.
fn cancelled(order_id: Uuid) -> OrderCancelled {
    OrderCancelled {
        order_id,
        user_id: Uuid::new_v4(),
        reason: CancelReason::PaymentDeclined,
        lines: vec![OrderLine {
            product_id: Uuid::new_v4(),
            sku: "A".to_owned(),
            name: "Copper Kettle".to_owned(),
            unit_price: Money {
                amount_minor: 2500,
                currency: "EUR".to_owned(),
            },
            quantity: 2,
            line_total: Money {
                amount_minor: 5000,
                currency: "EUR".to_owned(),
            },
        }],
    }
}

async fn an_order_cancelled_releases_its_held_reservation_once(db: Db) {
    let store = migrated(db.clone()).await;
    stock(&store, &[("A", 5), ("B", 5)]).await;
    let order = Uuid::new_v4();
    store
        .reserve(order, &request(&[("A", 2), ("B", 1)], None), NOW)
        .await
        .unwrap();
    assert_eq!(counters(&store, "A").await, (5, 2, 0, 3));
    let before = outbox_len(&store).await;

    let inbox = Inbox::new(db);
    let subscription = inventory::events::orders(Outbox::new());
    let envelope = Envelope::of(&cancelled(order), 1).unwrap();
    assert_eq!(
        inbox.apply(&subscription, &envelope, None).await.unwrap(),
        ApplyOutcome::Applied
    );
    let reservation = store.reservation(order).await.unwrap().unwrap();
    assert_eq!(reservation.status, ReservationStatus::Released);
    assert_eq!(counters(&store, "A").await, (5, 0, 0, 5));
    assert_eq!(counters(&store, "B").await, (5, 0, 0, 5));
    // The release is announced like any other, in the handler's transaction.
    assert_eq!(
        announced_after(&store, before).await,
        [changed(("A", 5, 0, 0, 5)), changed(("B", 5, 0, 0, 5))]
    );

    // The same delivery again: recognised, and nothing given back twice.
    assert_eq!(
        inbox.apply(&subscription, &envelope, None).await.unwrap(),
        ApplyOutcome::Duplicate
    );
    assert_eq!(counters(&store, "A").await, (5, 0, 0, 5));
    assert_eq!(outbox_len(&store).await, before + 2);
    // The API's release afterwards finds nothing held either.
    assert_eq!(
        store.release(order, NOW + 1).await.unwrap().status,
        ReservationStatus::Released
    );
    assert_eq!(outbox_len(&store).await, before + 2);
    assert_audit_clean(&store).await;
}

async fn an_order_cancelled_leaves_other_reservations_alone(db: Db) {
    let store = migrated(db.clone()).await;
    stock(&store, &[("A", 5)]).await;
    let (committed, expired, released) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    store
        .reserve(committed, &request(&[("A", 2)], None), NOW)
        .await
        .unwrap();
    store.commit(committed, NOW).await.unwrap();
    store
        .reserve(expired, &request(&[("A", 1)], Some(1000)), NOW)
        .await
        .unwrap();
    store.expire_due(NOW + 1000).await.unwrap();
    store
        .reserve(released, &request(&[("A", 1)], None), NOW)
        .await
        .unwrap();
    store.release(released, NOW).await.unwrap();
    assert_eq!(counters(&store, "A").await, (5, 0, 2, 3));
    let before = outbox_len(&store).await;

    // Sold units stay sold; units given back are not given back twice; an order that never
    // reserved has nothing to release. Each event is still applied (and not retried).
    let inbox = Inbox::new(db);
    let subscription = inventory::events::orders(Outbox::new());
    for order in [committed, expired, released, Uuid::new_v4()] {
        let envelope = Envelope::of(&cancelled(order), 1).unwrap();
        assert_eq!(
            inbox.apply(&subscription, &envelope, None).await.unwrap(),
            ApplyOutcome::Applied
        );
    }
    assert_eq!(counters(&store, "A").await, (5, 0, 2, 3));
    let status = |order| {
        let store = store.clone();
        async move { store.reservation(order).await.unwrap().unwrap().status }
    };
    assert_eq!(status(committed).await, ReservationStatus::Committed);
    assert_eq!(status(expired).await, ReservationStatus::Expired);
    assert_eq!(status(released).await, ReservationStatus::Released);
    assert_eq!(outbox_len(&store).await, before);
    assert_audit_clean(&store).await;
}
