//! Shipments on SQLite and PostgreSQL: one per order, announced once.

use brigade_chassis::db::Db;
use shipping::store::Made;
use shipping_api::{tracking_number, Shipment, ShipmentStatus};
use uuid::Uuid;

use crate::support::migrated;

brigade_chassis::store_suite!(
    a_shipment_is_made_once_and_read_back,
    an_order_without_a_shipment_has_none,
);

fn shipment(order_id: Uuid) -> Shipment {
    Shipment {
        order_id,
        user_id: Uuid::new_v4(),
        status: ShipmentStatus::Created,
        tracking_number: tracking_number(order_id),
        carrier: "Brigade Post".into(),
        country: "FR".into(),
        estimated_delivery: "2026-12-08".into(),
        created_at_ms: 1_796_551_200_000,
    }
}

async fn a_shipment_is_made_once_and_read_back(db: Db) {
    let store = migrated(db).await;
    let first = shipment(Uuid::new_v4());
    assert_eq!(store.make(&first).await.unwrap(), Made::Now);
    // The same order again, even with other details, keeps the first shipment.
    let mut again = first.clone();
    again.carrier = "Someone else".into();
    assert_eq!(store.make(&again).await.unwrap(), Made::Before);
    assert_eq!(
        store.shipment(first.order_id).await.unwrap(),
        Some(first.clone())
    );
    let events = brigade_chassis::events::stored_events(&store.db)
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "one shipment, one announcement");
}

async fn an_order_without_a_shipment_has_none(db: Db) {
    let store = migrated(db).await;
    assert_eq!(store.shipment(Uuid::new_v4()).await.unwrap(), None);
}

#[tokio::test]
async fn the_migrations_build_the_same_schema_on_both_engines() {
    brigade_chassis::testing::schema::assert_migrations_agree(shipping::MIGRATIONS).await;
}
