//! Every event the service consumes, applied through the chassis' inbox as a delivery would be,
//! on SQLite and PostgreSQL: each kind writes its message to the right shopper, an event applied
//! twice (the same delivery, or the same fact in a new envelope) writes one message, and a refund
//! that arrives before its order waits for it.

use brigade_chassis::db::Db;
use brigade_chassis::events::ApplyOutcome;
use brigade_chassis::validation::Page;
use notifications_api::{Delivery, Message, MessageKind};
use orders_api::CancelReason;
use users_api::events::UserRegistered;
use uuid::Uuid;

use crate::support::{apply, cancelled, confirmed, deliver, envelope, migrated, refunded, shipped};

brigade_chassis::store_suite!(
    each_event_kind_writes_its_message_to_its_shopper,
    an_event_applied_twice_writes_one_message,
    a_refund_before_its_order_is_written_when_the_order_arrives,
    a_registered_shopper_gets_no_message,
    a_shipment_writes_one_message_with_its_tracking_number,
);

/// Every message of `user`, newest first.
async fn mailbox(store: &notifications::Store, user: Uuid) -> Vec<Message> {
    let page = Page {
        page: 1,
        page_size: 100,
    };
    store.page(user, page).await.unwrap().items
}

fn kinds(messages: &[Message]) -> Vec<MessageKind> {
    messages.iter().map(|m| m.kind).collect()
}

async fn each_event_kind_writes_its_message_to_its_shopper(db: Db) {
    let store = migrated(db.clone()).await;
    let (ada, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let (paid, declined) = (Uuid::new_v4(), Uuid::new_v4());
    assert_eq!(
        apply(&db, &confirmed(ada, paid)).await,
        ApplyOutcome::Applied
    );
    let cancel = cancelled(bob, declined, CancelReason::PaymentDeclined);
    assert_eq!(apply(&db, &cancel).await, ApplyOutcome::Applied);
    assert_eq!(
        apply(&db, &refunded(paid, 2500)).await,
        ApplyOutcome::Applied
    );

    let adas = mailbox(&store, ada).await;
    assert_eq!(
        kinds(&adas),
        [MessageKind::PaymentRefunded, MessageKind::OrderConfirmed]
    );
    let confirmation = &adas[1];
    assert_eq!(confirmation.user_id, ada);
    assert!(
        confirmation.subject.contains("is confirmed"),
        "{confirmation:?}"
    );
    assert!(
        confirmation.text_body.contains("2 x Kettle: 25.00 EUR"),
        "{confirmation:?}"
    );
    assert!(
        confirmation.html_body.contains("<td>Kettle</td>"),
        "{confirmation:?}"
    );
    assert!(confirmation.text_body.contains(&paid.to_string()));
    assert_eq!(confirmation.delivery, Delivery::Stored);
    assert!(
        adas[0].subject.contains("A refund of 25.00 EUR"),
        "{:?}",
        adas[0]
    );

    let bobs = mailbox(&store, bob).await;
    assert_eq!(kinds(&bobs), [MessageKind::OrderCancelled]);
    assert!(bobs[0].text_body.contains("card was declined"), "{bobs:?}");
    assert!(bobs[0].subject.contains("was cancelled"));
    // Each shopper reads only their own.
    assert_eq!(store.message(bob, adas[0].id).await.unwrap(), None);
    assert_eq!(
        store.message(ada, adas[0].id).await.unwrap().as_ref(),
        Some(&adas[0])
    );
}

async fn an_event_applied_twice_writes_one_message(db: Db) {
    let store = migrated(db.clone()).await;
    let user = Uuid::new_v4();
    let order = confirmed(user, Uuid::new_v4());
    let first = envelope(&order);
    assert_eq!(
        deliver(&db, &first, Delivery::Pending).await,
        ApplyOutcome::Applied
    );
    // The same delivery again: the inbox knows it.
    assert_eq!(
        deliver(&db, &first, Delivery::Pending).await,
        ApplyOutcome::Duplicate
    );
    // The same fact in a new envelope (a replay): the message's origin is stored already.
    apply(&db, &order).await;
    let refund = refunded(order.order_id, 100);
    apply(&db, &refund).await;
    apply(&db, &refund).await;
    let messages = mailbox(&store, user).await;
    assert_eq!(
        kinds(&messages),
        [MessageKind::PaymentRefunded, MessageKind::OrderConfirmed]
    );
    // The first write decides its delivery.
    assert_eq!(messages[1].delivery, Delivery::Pending);
}

async fn a_refund_before_its_order_is_written_when_the_order_arrives(db: Db) {
    let store = migrated(db.clone()).await;
    let user = Uuid::new_v4();
    let order = Uuid::new_v4();
    let refund = refunded(order, 999);
    assert_eq!(apply(&db, &refund).await, ApplyOutcome::Applied);
    apply(&db, &refund).await;
    assert!(mailbox(&store, user).await.is_empty());
    let cancel = cancelled(user, order, CancelReason::ReservationExpired);
    apply(&db, &cancel).await;
    let messages = mailbox(&store, user).await;
    let mut found = kinds(&messages);
    found.sort_by_key(|k| k.as_str());
    assert_eq!(
        found,
        [MessageKind::OrderCancelled, MessageKind::PaymentRefunded]
    );
    let refund_message = messages
        .iter()
        .find(|m| m.kind == MessageKind::PaymentRefunded)
        .unwrap();
    assert!(
        refund_message.subject.contains("9.99 EUR"),
        "{refund_message:?}"
    );
    // The waiting refund was used up: the order's event again writes nothing more.
    apply(&db, &cancel).await;
    assert_eq!(mailbox(&store, user).await.len(), 2);
}

async fn a_registered_shopper_gets_no_message(db: Db) {
    let store = migrated(db.clone()).await;
    let user = Uuid::new_v4();
    let registered = UserRegistered {
        user_id: user,
        registered_at_ms: 1_700_000_000_000,
    };
    assert_eq!(apply(&db, &registered).await, ApplyOutcome::Applied);
    assert!(mailbox(&store, user).await.is_empty());
    // Knowing the shopper first keeps the address learnt later, and the other way round.
    store
        .remember_address(user, "ada@example.com")
        .await
        .unwrap();
    apply(&db, &registered).await;
    assert_eq!(store.due(i64::MAX, 10).await.unwrap(), Vec::new());
}

async fn a_shipment_writes_one_message_with_its_tracking_number(db: Db) {
    let store = migrated(db.clone()).await;
    let (ada, order) = (Uuid::new_v4(), Uuid::new_v4());
    let shipment = shipped(ada, order);
    assert_eq!(apply(&db, &shipment).await, ApplyOutcome::Applied);
    // Announced again under a new number (a replay): the order's shipment is told once.
    let replay = brigade_chassis::events::Envelope::of(&shipment, 2).unwrap();
    deliver(&db, &replay, Delivery::Stored).await;
    let adas = mailbox(&store, ada).await;
    assert_eq!(kinds(&adas), [MessageKind::ShipmentCreated]);
    let tracking = shipping_api::tracking_number(order);
    assert!(adas[0].text_body.contains(&tracking), "{:?}", adas[0]);
}
