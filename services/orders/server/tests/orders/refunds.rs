//! Orders' reaction to payments' `PaymentRefunded`, applied through the chassis' inbox as a
//! delivery would be, on SQLite and PostgreSQL: the refund joins the order's history once.

use brigade_chassis::db::Db;
use brigade_chassis::events::{ApplyError, ApplyOutcome, Envelope, Inbox};
use orders::saga::Ended;
use orders_api::OrderStatus;
use payments_api::events::{Amount, PaymentRefunded};
use uuid::Uuid;

use crate::support::{migrated, new_order, one_more_step, saga, Fake};

brigade_chassis::store_suite!(
    a_refund_of_a_confirmed_order_joins_its_history_once,
    a_refund_of_an_order_this_service_does_not_know_is_skipped,
);

fn refunded(order_id: Uuid, charge_id: Uuid) -> PaymentRefunded {
    PaymentRefunded {
        refund_id: Uuid::new_v4(),
        charge_id,
        order_id,
        amount: Amount {
            amount_minor: 5000,
            currency: "EUR".into(),
        },
    }
}

async fn deliver(db: &Db, envelope: &Envelope) -> Result<ApplyOutcome, ApplyError> {
    Inbox::new(db.clone())
        .apply(&orders::events::payments(), envelope, None)
        .await
}

async fn a_refund_of_a_confirmed_order_joins_its_history_once(db: Db) {
    let fake = Fake::new(10);
    let store = migrated(db.clone()).await;
    let saga = saga(&store, &fake, "instance-a");
    let id = new_order(&store, &fake, saga.lease()).await;
    assert_eq!(
        saga.drive(id).await,
        Ended::Finished(OrderStatus::Confirmed)
    );
    let before = store.order(id).await.unwrap().unwrap();
    let charge_id = before.charge_id.unwrap();

    // Support refunds the order through payments; orders learns it from the event.
    let event = refunded(id, charge_id);
    let envelope = Envelope::of(&event, 1).unwrap();
    assert_eq!(
        deliver(&db, &envelope).await.unwrap(),
        ApplyOutcome::Applied
    );
    let after = one_more_step(&store, &before, "refund", "refunded").await;
    let last = after.history.last().unwrap();
    assert!(last.detail.contains(&charge_id.to_string()), "{last:?}");
    assert!(
        last.detail.contains(&event.refund_id.to_string()),
        "{last:?}"
    );
    assert!(last.detail.contains("5000 EUR"), "{last:?}");
    // The order stays as it was otherwise: confirmed, its charge named.
    assert_eq!(after.status, OrderStatus::Confirmed);
    assert_eq!(after.charge_id, Some(charge_id));

    // Delivered again: applied once in effect.
    assert_eq!(
        deliver(&db, &envelope).await.unwrap(),
        ApplyOutcome::Duplicate
    );
    assert_eq!(
        store.order(id).await.unwrap().unwrap().history,
        after.history
    );
}

async fn a_refund_of_an_order_this_service_does_not_know_is_skipped(db: Db) {
    let store = migrated(db.clone()).await;
    let unknown = Uuid::new_v4();
    let envelope = Envelope::of(&refunded(unknown, Uuid::new_v4()), 1).unwrap();
    // Nothing to record, and nothing to retry or park either.
    assert_eq!(
        deliver(&db, &envelope).await.unwrap(),
        ApplyOutcome::Applied
    );
    assert!(store.order(unknown).await.unwrap().is_none());
}
