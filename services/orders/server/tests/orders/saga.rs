//! The saga's state machine with a fake port, on SQLite and PostgreSQL.

use std::time::Duration;

use brigade_chassis::db::Db;
use orders::saga::recovery::recover_once;
use orders::saga::Ended;
use orders::store::Lease;
use orders::Store;
use orders_api::{CancelReason, OrderStatus};
use uuid::Uuid;

use crate::support::{migrated, new_order, saga, second_pool, ChargeScript, Fake, ResStatus};

brigade_chassis::store_suite!(
    the_happy_path_confirms_with_one_reservation_and_one_capture,
    out_of_stock_cancels_without_charging,
    a_decline_releases_the_reservation,
    a_processor_error_is_retried_with_the_same_charge,
    unknown_outcomes_past_the_bound_cancel_as_payment_failed,
    an_expired_reservation_after_payment_is_refunded,
    resuming_from_every_persisted_state_reaches_the_same_end,
    two_instances_never_drive_one_saga_at_once,
);

async fn drive_new(db: Db, fake: &Fake) -> (Store, Uuid, Ended) {
    let store = migrated(db).await;
    let saga = saga(&store, fake, "instance-a");
    let id = new_order(&store, fake, saga.lease()).await;
    let ended = saga.drive(id, None).await;
    (store, id, ended)
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
}

async fn out_of_stock_cancels_without_charging(db: Db) {
    let fake = Fake::new(1);
    let (store, id, ended) = drive_new(db, &fake).await;
    assert_eq!(ended, Ended::Finished(OrderStatus::Cancelled));
    let order = store.order(id).await.unwrap().unwrap();
    assert_eq!(order.cancel_reason, Some(CancelReason::OutOfStock));
    assert_eq!(fake.calls("charge", id), 0);
    assert_eq!(fake.world().stock["SKU-0001"], 1);
    assert!(steps_of(&order).contains(&"reserve:out_of_stock".to_owned()));
}

async fn a_decline_releases_the_reservation(db: Db) {
    let fake = Fake::new(10);
    fake.script(&[ChargeScript::Decline("insufficient_funds")]);
    let (store, id, ended) = drive_new(db, &fake).await;
    assert_eq!(ended, Ended::Finished(OrderStatus::Cancelled));
    let order = store.order(id).await.unwrap().unwrap();
    assert_eq!(order.cancel_reason, Some(CancelReason::PaymentDeclined));
    assert_eq!(order.decline_code.as_deref(), Some("insufficient_funds"));
    let w = fake.world();
    assert_eq!(w.reservations[&id].1, ResStatus::Released);
    assert_eq!(w.stock["SKU-0002"], 10);
    assert_eq!(w.captures, 0);
    drop(w);
    assert_eq!(fake.calls("commit", id), 0);
}

async fn a_processor_error_is_retried_with_the_same_charge(db: Db) {
    let fake = Fake::new(10);
    fake.script(&[ChargeScript::ProcessorError, ChargeScript::ProcessorError]);
    let (store, id, ended) = drive_new(db, &fake).await;
    assert_eq!(ended, Ended::Finished(OrderStatus::Confirmed));
    assert_eq!(fake.calls("charge", id), 3);
    assert_eq!(fake.world().captures, 1);
    let order = store.order(id).await.unwrap().unwrap();
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
    assert_eq!(ended, Ended::Finished(OrderStatus::Cancelled));
    let order = store.order(id).await.unwrap().unwrap();
    assert_eq!(order.cancel_reason, Some(CancelReason::PaymentFailed));
    assert_eq!(fake.calls("charge", id), 5);
    let w = fake.world();
    assert_eq!(w.reservations[&id].1, ResStatus::Released);
    assert_eq!(w.captures, 0);
}

async fn an_expired_reservation_after_payment_is_refunded(db: Db) {
    let fake = Fake::new(10);
    fake.world().expire_on_commit = true;
    let (store, id, ended) = drive_new(db, &fake).await;
    assert_eq!(ended, Ended::Finished(OrderStatus::Cancelled));
    let order = store.order(id).await.unwrap().unwrap();
    assert_eq!(order.cancel_reason, Some(CancelReason::ReservationExpired));
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
    captures: u32,
    refunds: u32,
    reservation: ResStatus,
}

async fn resuming_from_every_persisted_state_reaches_the_same_end(db: Db) {
    let store = migrated(db).await;
    let confirmed = Expected {
        status: OrderStatus::Confirmed,
        reason: None,
        captures: 1,
        refunds: 0,
        reservation: ResStatus::Committed,
    };
    let declined = Expected {
        status: OrderStatus::Cancelled,
        reason: Some(CancelReason::PaymentDeclined),
        captures: 0,
        refunds: 0,
        reservation: ResStatus::Released,
    };
    let expired = Expected {
        status: OrderStatus::Cancelled,
        reason: Some(CancelReason::ReservationExpired),
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
            tokio::spawn(async move { first.drive(id, None).await })
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
    let store_b = Store::new(other);
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
