//! The saga's state machine with a fake port, on SQLite and PostgreSQL, and the events its
//! persisted steps write to the outbox.

use std::time::Duration;

use brigade_chassis::db::Db;
use brigade_chassis::events::{Envelope, Outbox};
use catalog_api::Money;
use orders::saga::recovery::recover_once;
use orders::saga::Ended;
use orders::store::{Created, Lease, Transition};
use orders::Store;
use orders_api::events::{OrderCancelled, OrderConfirmed, OrderPlaced};
use orders_api::{CancelReason, Order, OrderStatus};
use uuid::Uuid;

use crate::support::{
    events_of, migrated, new_order, saga, sample_order, second_pool, types, ChargeScript, Fake,
    ResStatus,
};

brigade_chassis::store_suite!(
    the_happy_path_confirms_with_one_reservation_and_one_capture,
    out_of_stock_cancels_without_charging,
    a_decline_releases_the_reservation,
    a_processor_error_is_retried_with_the_same_charge,
    unknown_outcomes_past_the_bound_cancel_as_payment_failed,
    payments_unreachable_at_the_first_attempt_cancels_at_once_with_nothing_charged,
    payments_unreachable_after_an_unknown_outcome_is_only_another_unknown,
    an_expired_reservation_after_payment_is_refunded,
    resuming_from_every_persisted_state_reaches_the_same_end,
    two_instances_never_drive_one_saga_at_once,
    a_repeated_key_or_a_repeated_step_announces_nothing_more,
    the_same_key_at_once_from_two_instances_places_one_order,
);

async fn drive_new(db: Db, fake: &Fake) -> (Store, Uuid, Ended) {
    let store = migrated(db).await;
    let saga = saga(&store, fake, "instance-a");
    let id = new_order(&store, fake, saga.lease()).await;
    let ended = saga.drive(id).await;
    (store, id, ended)
}

/// Checks the order's events are exactly `OrderPlaced` and then `end`, numbered 1 and 2 in
/// their subject, and that `OrderPlaced` carries the order as it was placed: what
/// [`crate::support::sample_order`] ordered (1 × SKU-0001, 2 × SKU-0002, 50 EUR).
async fn placed_then(store: &Store, order: &Order, end: &str) -> Envelope {
    let events = events_of(store, order.id).await;
    assert_eq!(types(&events), ["OrderPlaced", end], "{events:?}");
    assert_eq!(
        events.iter().map(|e| e.subjectseq).collect::<Vec<_>>(),
        [1, 2]
    );
    let placed: OrderPlaced = events[0].decode().unwrap();
    let quantities: Vec<(&str, u32)> = placed
        .lines
        .iter()
        .map(|l| (l.sku.as_str(), l.quantity))
        .collect();
    assert_eq!(quantities, [("SKU-0001", 1), ("SKU-0002", 2)]);
    assert_eq!(
        placed,
        OrderPlaced {
            order_id: order.id,
            user_id: order.user_id,
            lines: order.lines.clone(),
            total: eur(5000),
        }
    );
    events[1].clone()
}

fn eur(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency: "EUR".into(),
    }
}

/// The order's `OrderCancelled`, after its `OrderPlaced`.
async fn cancelled_event(store: &Store, order: &Order) -> OrderCancelled {
    let cancelled: OrderCancelled = placed_then(store, order, "OrderCancelled")
        .await
        .decode()
        .unwrap();
    assert_eq!(cancelled.order_id, order.id);
    assert_eq!(cancelled.user_id, order.user_id);
    assert_eq!(cancelled.lines, order.lines);
    cancelled
}

/// Asserts that the saga of order `id` ended cancelled for `reason`, recorded and announced
/// (`OrderCancelled`) as such; the order.
async fn assert_cancelled(store: &Store, id: Uuid, ended: Ended, reason: CancelReason) -> Order {
    assert_eq!(ended, Ended::Finished(OrderStatus::Cancelled));
    let order = store.order(id).await.unwrap().unwrap();
    assert_eq!(order.cancel_reason, Some(reason));
    assert_eq!(cancelled_event(store, &order).await.reason, reason);
    order
}

/// Drives a new order's saga with the first charge attempts answered as `script` says, and
/// asserts that it was confirmed on the third attempt with one capture; the order.
async fn confirmed_on_the_third_charge(db: Db, script: &[ChargeScript]) -> Order {
    let fake = Fake::new(10);
    fake.script(script);
    let (store, id, ended) = drive_new(db, &fake).await;
    assert_eq!(ended, Ended::Finished(OrderStatus::Confirmed));
    assert_eq!(fake.calls("charge", id), 3);
    assert_eq!(fake.world().captures, 1);
    store.order(id).await.unwrap().unwrap()
}

fn steps_of(order: &orders_api::Order) -> Vec<String> {
    order
        .history
        .iter()
        .map(|h| format!("{}:{}", h.step, h.outcome))
        .collect()
}

async fn the_happy_path_confirms_with_one_reservation_and_one_capture(db: Db) {
    let fake = Fake::new(10);
    let (store, id, ended) = drive_new(db, &fake).await;
    assert_eq!(ended, Ended::Finished(OrderStatus::Confirmed));
    let order = store.order(id).await.unwrap().unwrap();
    assert_eq!(order.status, OrderStatus::Confirmed);
    assert_eq!(order.cancel_reason, None);
    assert!(order.charge_id.is_some());
    assert_eq!(
        steps_of(&order),
        [
            "created:ok",
            "reserve:started",
            "reserve:ok",
            "charge:started",
            "charge:captured",
            "commit:started",
            "commit:ok"
        ]
    );
    {
        let w = fake.world();
        assert_eq!(w.captures, 1);
        assert_eq!(w.reservations[&id].1, ResStatus::Committed);
        assert_eq!(w.stock["SKU-0001"], 9);
        assert_eq!(w.stock["SKU-0002"], 8);
    }
    // The card number is forgotten once the saga ends.
    assert_eq!(store.saga(id).await.unwrap().unwrap().card_number, None);
    // Placed, then confirmed with what was bought, for how much, paid by which charge.
    let confirmed: OrderConfirmed = placed_then(&store, &order, "OrderConfirmed")
        .await
        .decode()
        .unwrap();
    assert_eq!(
        confirmed,
        OrderConfirmed {
            order_id: id,
            user_id: order.user_id,
            lines: order.lines.clone(),
            total: eur(5000),
            charge_id: order.charge_id,
            shipping_country: None,
            // The cart version the order was priced from, for the cart.
            cart_version: Some(7),
        }
    );
}

async fn out_of_stock_cancels_without_charging(db: Db) {
    let fake = Fake::new(1);
    let (store, id, ended) = drive_new(db, &fake).await;
    let order = assert_cancelled(&store, id, ended, CancelReason::OutOfStock).await;
    assert_eq!(fake.calls("charge", id), 0);
    assert_eq!(fake.world().stock["SKU-0001"], 1);
    assert!(steps_of(&order).contains(&"reserve:out_of_stock".to_owned()));
}

async fn a_decline_releases_the_reservation(db: Db) {
    let fake = Fake::new(10);
    fake.script(&[ChargeScript::Decline("insufficient_funds")]);
    let (store, id, ended) = drive_new(db, &fake).await;
    let order = assert_cancelled(&store, id, ended, CancelReason::PaymentDeclined).await;
    assert_eq!(order.decline_code.as_deref(), Some("insufficient_funds"));
    let w = fake.world();
    assert_eq!(w.reservations[&id].1, ResStatus::Released);
    assert_eq!(w.stock["SKU-0002"], 10);
    assert_eq!(w.captures, 0);
    drop(w);
    assert_eq!(fake.calls("commit", id), 0);
}

async fn a_processor_error_is_retried_with_the_same_charge(db: Db) {
    let order = confirmed_on_the_third_charge(db, &[ChargeScript::ProcessorError; 2]).await;
    let errors = order
        .history
        .iter()
        .filter(|h| h.step == "charge" && h.outcome == "error")
        .count();
    assert_eq!(errors, 2);
}

async fn unknown_outcomes_past_the_bound_cancel_as_payment_failed(db: Db) {
    let fake = Fake::new(10);
    fake.script(&[ChargeScript::ProcessorError; 5]);
    let (store, id, ended) = drive_new(db, &fake).await;
    assert_cancelled(&store, id, ended, CancelReason::PaymentFailed).await;
    assert_eq!(fake.calls("charge", id), 5);
    let w = fake.world();
    assert_eq!(w.reservations[&id].1, ResStatus::Released);
    assert_eq!(w.captures, 0);
}

async fn payments_unreachable_at_the_first_attempt_cancels_at_once_with_nothing_charged(db: Db) {
    let fake = Fake::new(10);
    fake.script(&[ChargeScript::Unreachable]);
    let (store, id, ended) = drive_new(db, &fake).await;
    assert_cancelled(&store, id, ended, CancelReason::PaymentUnavailable).await;
    // One attempt, no repeat and no refund search: nothing can have been charged.
    assert_eq!(fake.calls("charge", id), 1);
    assert_eq!(fake.calls("refund", id), 0);
    let w = fake.world();
    assert_eq!(w.reservations[&id].1, ResStatus::Released);
    assert_eq!(w.stock["SKU-0002"], 10);
    assert_eq!(w.captures, 0);
}

async fn payments_unreachable_after_an_unknown_outcome_is_only_another_unknown(db: Db) {
    // The first attempt may have reached payments: a later unreachable attempt proves nothing
    // about it, so the saga keeps asking (with the same key) and confirms when it can.
    let script = [ChargeScript::ProcessorError, ChargeScript::Unreachable];
    let order = confirmed_on_the_third_charge(db, &script).await;
    assert_eq!(order.cancel_reason, None);
}

async fn an_expired_reservation_after_payment_is_refunded(db: Db) {
    let fake = Fake::new(10);
    fake.world().expire_on_commit = true;
    let (store, id, ended) = drive_new(db, &fake).await;
    assert_cancelled(&store, id, ended, CancelReason::ReservationExpired).await;
    let w = fake.world();
    assert_eq!((w.captures, w.refunds), (1, 1));
    assert_eq!(w.charges[&id].1, "refunded");
    assert_eq!(w.stock["SKU-0002"], 10);
}

/// How a scenario should end, and its effects downstream.
#[derive(Debug, Clone, Copy)]
struct Expected {
    status: OrderStatus,
    reason: Option<CancelReason>,
    /// The event announcing the end.
    event: &'static str,
    captures: u32,
    refunds: u32,
    reservation: ResStatus,
}

async fn resuming_from_every_persisted_state_reaches_the_same_end(db: Db) {
    let store = migrated(db).await;
    let confirmed = Expected {
        status: OrderStatus::Confirmed,
        reason: None,
        event: "OrderConfirmed",
        captures: 1,
        refunds: 0,
        reservation: ResStatus::Committed,
    };
    let declined = Expected {
        status: OrderStatus::Cancelled,
        reason: Some(CancelReason::PaymentDeclined),
        event: "OrderCancelled",
        captures: 0,
        refunds: 0,
        reservation: ResStatus::Released,
    };
    let expired = Expected {
        status: OrderStatus::Cancelled,
        reason: Some(CancelReason::ReservationExpired),
        event: "OrderCancelled",
        captures: 1,
        refunds: 1,
        reservation: ResStatus::Released,
    };
    // (scenario, the operation during which the instance "dies", before or after its effect)
    let mut cases = Vec::new();
    for op in ["reserve", "charge", "commit"] {
        for after in [false, true] {
            cases.push(("approve", op, after, confirmed));
        }
    }
    for op in ["charge", "release"] {
        for after in [false, true] {
            cases.push(("decline", op, after, declined));
        }
    }
    for op in ["commit", "refund"] {
        for after in [false, true] {
            cases.push(("expire", op, after, expired));
        }
    }
    for (scenario, op, after, expected) in cases {
        let what = format!("{scenario}, dying during {op} (after its effect: {after})");
        let fake = Fake::new(10);
        match scenario {
            "decline" => fake.script(&[ChargeScript::Decline("card_declined")]),
            "expire" => fake.world().expire_on_commit = true,
            _ => {}
        }
        fake.world().hang = Some((op, after));
        let first = saga(&store, &fake, "instance-dies");
        let id = new_order(&store, &fake, first.lease()).await;
        let driving = {
            let first = first.clone();
            tokio::spawn(async move { first.drive(id).await })
        };
        // Wait until the instance hangs in the chosen operation, then "kill" it.
        for _ in 0..500 {
            if fake.world().hang.is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(fake.world().hang.is_none(), "{what}: never reached");
        driving.abort();
        let _ = driving.await;
        assert_eq!(
            store.order(id).await.unwrap().unwrap().status,
            OrderStatus::Pending,
            "{what}"
        );
        // What the dead instance persisted so far announced the order, not its end.
        assert_eq!(
            types(&events_of(&store, id).await),
            ["OrderPlaced"],
            "{what}"
        );
        // Its lease lapses (here: at once) and another instance's recovery resumes the saga.
        store.unclaim(id, first.lease()).await.unwrap();
        let second = saga(&store, &fake, "instance-resumes");
        let mut resumed = recover_once(&second).await.unwrap();
        let position = resumed.iter().position(|(o, _)| *o == id).expect("resumed");
        let (_, task) = resumed.swap_remove(position);
        assert_eq!(
            task.await.unwrap(),
            Ended::Finished(expected.status),
            "{what}"
        );
        for (_, task) in resumed {
            task.await.unwrap();
        }
        let order = store.order(id).await.unwrap().unwrap();
        assert_eq!(order.status, expected.status, "{what}");
        assert_eq!(order.cancel_reason, expected.reason, "{what}");
        // One end announced, whatever was repeated to reach it.
        let end = placed_then(&store, &order, expected.event).await;
        if let Some(reason) = expected.reason {
            assert_eq!(end.decode::<OrderCancelled>().unwrap().reason, reason);
        }
        // Another restart after the end (a crash right after the last step was persisted)
        // resumes nothing and announces nothing more, even when the saga is driven again.
        store.unclaim(id, second.lease()).await.unwrap();
        let again = recover_once(&second).await.unwrap();
        assert!(again.iter().all(|(o, _)| *o != id), "{what}: resumed again");
        assert_eq!(second.drive(id).await, Ended::Finished(expected.status));
        assert_eq!(events_of(&store, id).await.len(), 2, "{what}");
        let w = fake.world();
        assert_eq!(w.captures, expected.captures, "{what}: captures");
        assert_eq!(w.refunds, expected.refunds, "{what}: refunds");
        assert_eq!(w.reservations[&id].1, expected.reservation, "{what}");
        // Every operation ran at most twice: once before the crash, once repeated after it.
        for op in ["reserve", "charge", "commit", "release", "refund"] {
            let calls = w.calls.get(&(op, id)).copied().unwrap_or(0);
            assert!(calls <= 2, "{what}: {op} called {calls} times");
        }
    }
}

async fn two_instances_never_drive_one_saga_at_once(db: Db) {
    let other = second_pool(&db).await;
    let store_a = migrated(db).await;
    let store_b = Store::new(other, Outbox::new());
    let fake = Fake::new(100).with_delay(Duration::from_millis(15));
    // Orders left by an instance that crashed: their leases have lapsed.
    let crashed = Lease {
        instance: "crashed".into(),
        duration: Duration::ZERO,
    };
    let mut ids = Vec::new();
    for _ in 0..8 {
        ids.push(new_order(&store_a, &fake, &crashed).await);
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let a = saga(&store_a, &fake, "instance-a");
    let b = saga(&store_b, &fake, "instance-b");
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let (found_a, found_b) = tokio::join!(recover_once(&a), recover_once(&b));
        tasks.extend(found_a.unwrap());
        tasks.extend(found_b.unwrap());
    }
    assert_eq!(tasks.len(), ids.len(), "each saga claimed exactly once");
    for (_, task) in tasks {
        assert_eq!(task.await.unwrap(), Ended::Finished(OrderStatus::Confirmed));
    }
    let w = fake.world();
    assert_eq!(w.max_in_flight, 1);
    assert_eq!(w.captures, 8);
    for id in ids {
        assert_eq!(w.calls[&("reserve", id)], 1);
        assert_eq!(w.calls[&("commit", id)], 1);
    }
}

async fn a_repeated_key_or_a_repeated_step_announces_nothing_more(db: Db) {
    let store = migrated(db).await;
    let fake = Fake::new(10);
    let saga = saga(&store, &fake, "instance-a");
    let lease = saga.lease().clone();
    let now = i64::try_from(brigade_chassis::time::unix_ms()).unwrap();
    let order = sample_order(&fake);
    let created = store
        .create_checkout("key-1", "fp", &order, &lease, now, now)
        .await
        .unwrap();
    assert!(matches!(created, Created::New));

    // The same key again (another request id, as a repeated request would make): the existing
    // order, and no second order nor event.
    let repeat = orders::store::NewOrder {
        id: Uuid::new_v4(),
        ..order.clone()
    };
    let again = store
        .create_checkout("key-1", "fp", &repeat, &lease, now, now)
        .await
        .unwrap();
    match again {
        Created::Existing(record) => assert_eq!(record.order_id, order.id),
        Created::New => panic!("the repeated key made a second order"),
    }
    assert!(store.order(repeat.id).await.unwrap().is_none());
    assert!(events_of(&store, repeat.id).await.is_empty());
    assert_eq!(types(&events_of(&store, order.id).await), ["OrderPlaced"]);

    // A step that changes nothing (another instance's lease, a state already left) announces
    // nothing: its transaction wrote nothing.
    let confirm = Transition::confirmed();
    let other = Lease {
        instance: "instance-b".into(),
        duration: Duration::from_secs(3),
    };
    assert!(!store
        .advance(order.id, &other, &confirm, None, now)
        .await
        .unwrap());
    assert!(!store
        .advance(order.id, &lease, &confirm, None, now)
        .await
        .unwrap());
    assert_eq!(types(&events_of(&store, order.id).await), ["OrderPlaced"]);

    // Driven to its end, then its last step repeated (as a recovered saga would): one end.
    assert_eq!(
        saga.drive(order.id).await,
        Ended::Finished(OrderStatus::Confirmed)
    );
    assert!(!store
        .advance(order.id, &lease, &confirm, None, now)
        .await
        .unwrap());
    let done = store.order(order.id).await.unwrap().unwrap();
    placed_then(&store, &done, "OrderConfirmed").await;
}

async fn the_same_key_at_once_from_two_instances_places_one_order(db: Db) {
    let other = second_pool(&db).await;
    let store_a = migrated(db).await;
    let store_b = Store::new(other.clone(), Outbox::new());
    let fake = Fake::new(10);
    let lease = saga(&store_a, &fake, "instance-a").lease().clone();
    let now = i64::try_from(brigade_chassis::time::unix_ms()).unwrap();
    for round in 0..5 {
        let key = format!("key-{round}");
        let a = sample_order(&fake);
        let b = orders::store::NewOrder {
            id: Uuid::new_v4(),
            ..a.clone()
        };
        let (created_a, created_b) = tokio::join!(
            store_a.create_checkout(&key, "fp", &a, &lease, now, now),
            store_b.create_checkout(&key, "fp", &b, &lease, now, now)
        );
        let (created_a, created_b) = (created_a.unwrap(), created_b.unwrap());
        let mut events = Vec::new();
        for id in [a.id, b.id] {
            events.extend(events_of(&store_a, id).await);
        }
        let new = [&created_a, &created_b]
            .iter()
            .filter(|c| matches!(c, Created::New))
            .count();
        assert_eq!(new, 1, "round {round}: {created_a:?} {created_b:?}");
        assert_eq!(types(&events), ["OrderPlaced"], "round {round}");
        let winner = if matches!(created_a, Created::New) {
            a.id
        } else {
            b.id
        };
        assert_eq!(events[0].subject, winner.to_string());
    }
    other.close().await;
}
