//! `OrderConfirmed` through the chassis' inbox: one shipment per confirmed order with a
//! destination, however often the event arrives, and its `ShipmentCreated` in the outbox.

use brigade_chassis::db::Db;
use brigade_chassis::events::{ApplyOutcome, Envelope};
use shipping_api::{tracking_number, ShipmentStatus};

use crate::support::{confirmed, Feed};

brigade_chassis::store_suite!(
    a_confirmed_order_applied_twice_gets_one_shipment_and_one_announcement,
    a_replayed_event_with_a_new_number_still_makes_no_second_shipment,
    an_order_without_a_destination_ships_nothing,
);

async fn a_confirmed_order_applied_twice_gets_one_shipment_and_one_announcement(db: Db) {
    let feed = Feed::new(db).await;
    let order = confirmed(Some("DE"));
    let envelope = Envelope::of(&order, 1).unwrap();
    assert_eq!(feed.deliver(&envelope).await, ApplyOutcome::Applied);
    assert_eq!(feed.deliver(&envelope).await, ApplyOutcome::Duplicate);

    let shipment = feed.store.shipment(order.order_id).await.unwrap().unwrap();
    assert_eq!(shipment.user_id, order.user_id);
    assert_eq!(shipment.status, ShipmentStatus::Created);
    assert_eq!(shipment.tracking_number, tracking_number(order.order_id));
    assert_eq!(
        (shipment.carrier.as_str(), shipment.country.as_str()),
        ("EuroParcel", "DE")
    );

    let announced = feed.announced().await;
    assert_eq!(announced.len(), 1, "{announced:?}");
    assert_eq!(announced[0].order_id, order.order_id);
    assert_eq!(announced[0].user_id, order.user_id);
    assert_eq!(announced[0].tracking_number, shipment.tracking_number);
    assert_eq!(announced[0].carrier, "EuroParcel");
    assert_eq!(announced[0].estimated_delivery, shipment.estimated_delivery);
}

async fn a_replayed_event_with_a_new_number_still_makes_no_second_shipment(db: Db) {
    let feed = Feed::new(db).await;
    let order = confirmed(Some("FR"));
    assert_eq!(
        feed.deliver(&Envelope::of(&order, 1).unwrap()).await,
        ApplyOutcome::Applied
    );
    // A producer that announced the order twice (as two events) still gets one shipment.
    assert_eq!(
        feed.deliver(&Envelope::of(&order, 2).unwrap()).await,
        ApplyOutcome::Applied
    );
    assert_eq!(feed.announced().await.len(), 1);
}

async fn an_order_without_a_destination_ships_nothing(db: Db) {
    let feed = Feed::new(db).await;
    let order = confirmed(None);
    assert_eq!(
        feed.deliver(&Envelope::of(&order, 1).unwrap()).await,
        ApplyOutcome::Applied
    );
    assert_eq!(feed.store.shipment(order.order_id).await.unwrap(), None);
    assert!(feed.announced().await.is_empty());
}
