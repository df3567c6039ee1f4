//! Every event the service consumes, applied through the chassis' inbox as a delivery would be,
//! on SQLite and PostgreSQL: each kind writes its message to the right shopper, an event applied
//! twice (the same delivery, or the same fact in a new envelope) writes one message, and a refund
//! that arrives before its order waits for it.

use brigade_chassis::db::Db;
use brigade_chassis::events::{ApplyOutcome, Envelope};
use brigade_chassis::validation::Page;
use notifications_api::{Delivery, Message, MessageKind};
use orders_api::CancelReason;
use uuid::Uuid;

use crate::support::{
    apply, cancelled, confirmed, deliver, envelope, migrated, refunded, registered, shipped,
};

brigade_chassis::store_suite!(
    each_event_kind_writes_its_message_to_its_shopper,
    an_event_applied_twice_writes_one_message,
    a_refund_before_its_order_is_written_when_the_order_arrives,
    a_registered_shopper_gets_no_message,
    a_shipment_writes_one_message_with_its_tracking_number,
    a_sign_up_gives_the_address_and_one_from_before_the_address_is_still_applied,
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
    let registered = registered(user, None);
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

/// The address each pending message would be emailed to, by shopper.
async fn due_to(store: &notifications::Store) -> Vec<String> {
    let due = store.due(i64::MAX, 10).await.unwrap();
    due.into_iter().map(|outgoing| outgoing.email).collect()
}

async fn a_sign_up_gives_the_address_and_one_from_before_the_address_is_still_applied(db: Db) {
    let store = migrated(db.clone()).await;
    let (ada, bob) = (Uuid::new_v4(), Uuid::new_v4());
    for user in [ada, bob] {
        let order = envelope(&confirmed(user, Uuid::new_v4()));
        deliver(&db, &order, Delivery::Pending).await;
    }
    assert_eq!(due_to(&store).await, Vec::<String>::new());

    // Bob signed up before `UserRegistered` carried the address: his version 1 event, still
    // in users' outbox, is applied, not parked; his message waits for his address.
    let mut old = envelope(&registered(bob, None));
    old.schemaversion = 1;
    old.data = serde_json::json!({"user_id": bob, "registered_at_ms": 1_700_000_000_000_u64});
    assert_eq!(
        deliver(&db, &old, Delivery::Pending).await,
        ApplyOutcome::Applied
    );
    assert_eq!(due_to(&store).await, Vec::<String>::new());

    // Ada's sign-up carries her address: her confirmation is due to it at once.
    let adas = envelope(&registered(ada, Some("ada@example.com")));
    assert_eq!(adas.schemaversion, 2);
    assert_eq!(
        deliver(&db, &adas, Delivery::Pending).await,
        ApplyOutcome::Applied
    );
    assert_eq!(due_to(&store).await, ["ada@example.com"]);

    // Bob opens his messages: the address in his token is used, and a sign-up replayed later
    // does not replace it.
    store
        .remember_address(bob, "bob@example.com")
        .await
        .unwrap();
    let replay = Envelope::of(&registered(bob, Some("old@example.com")), 2).unwrap();
    deliver(&db, &replay, Delivery::Pending).await;
    let mut addresses = due_to(&store).await;
    addresses.sort();
    assert_eq!(addresses, ["ada@example.com", "bob@example.com"]);
}
