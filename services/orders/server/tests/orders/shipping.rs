//! Shipping at checkout, in process with the fake port: an address is quoted, its cost added to
//! the total charged and recorded with the order; shipping down or refusing leaves nothing
//! ordered. And shipping's `ShipmentCreated`, applied through the chassis' inbox on both
//! engines: the order's tracking number and a `ship / shipped` history row, once.

use axum::http::StatusCode;
use brigade_chassis::db::Db;
use brigade_chassis::events::{ApplyOutcome, Envelope, Inbox};
use orders::saga::{Ended, Steps};
use orders::store::NewShipping;
use orders_api::events::OrderConfirmed;
use orders_api::OrderStatus;
use serde_json::{json, Value};
use shipping_api::events::ShipmentCreated;
use uuid::Uuid;

use crate::http::App;
use crate::support::{
    events_of, migrated, one_more_step, saga, sample_order, Fake, SHIPPING_MINOR,
};

pub(crate) fn body(country: &str) -> String {
    json!({
        "card_number": "4242424242424242",
        "shipping_address": {
            "name": "Ada Lovelace",
            "street": "1 rue de la Paix",
            "city": "Paris",
            "postal_code": "75002",
            "country": country,
        },
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_with_an_address_charges_and_records_its_shipping() {
    let app = App::new(Fake::new(10)).await;
    let token = app.shopper();
    let answer = app.checkout(Some(&token), Some("k"), &body("FR")).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    let order = answer.body;
    assert_eq!(order["status"], "CONFIRMED");
    // Two units of product 1 (10 EUR) and the fake shipping's 4.90.
    let total = 2000 + SHIPPING_MINOR;
    assert_eq!(
        order["total"],
        json!({"amount_minor": total, "currency": "EUR"})
    );
    let shipping = &order["shipping"];
    assert_eq!(shipping["address"]["postal_code"], "75002");
    assert_eq!(shipping["cost"]["amount_minor"], SHIPPING_MINOR);
    assert_eq!(shipping["carrier"], "Brigade Post");
    assert_eq!(shipping["estimated_delivery"], "2026-12-08");
    assert_eq!(shipping["tracking_number"], Value::Null);
    let id: Uuid = order["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(app.fake.world().charged_minor.get(&id), Some(&total));
    // The confirmation tells shipping where the order goes.
    let events = events_of(&app.store, id).await;
    let confirmed: OrderConfirmed = events[1].decode().unwrap();
    assert_eq!(confirmed.shipping_country.as_deref(), Some("FR"));
    assert_eq!(confirmed.total.amount_minor, total);
    // Read back, the order is the same.
    let read = app
        .get(&format!("/v1/orders/{id}"), Some(&token))
        .await
        .ok();
    assert_eq!(read["shipping"], *shipping);
}

#[tokio::test]
async fn shipping_down_or_refusing_orders_nothing() {
    let app = App::new(Fake::new(10)).await;
    let token = app.shopper();
    app.fake.world().shipping_down = true;
    app.checkout(Some(&token), Some("k1"), &body("FR"))
        .await
        .problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "shipping-unavailable",
            "nothing was ordered",
        );
    app.fake.world().shipping_down = false;
    let unknown = app.checkout(Some(&token), Some("k2"), &body("XX")).await;
    let problem = unknown.problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown-country", "XX");
    assert_eq!(problem["parameter"], "shipping_address.country");
    app.checkout(Some(&token), Some("k3"), &body("france"))
        .await
        .invalid("shipping_address.country", "");
    // Nothing was recorded, reserved or charged.
    let list = app.get("/v1/orders", Some(&token)).await.ok();
    assert_eq!(list["total"], 0);
    let world = app.fake.world();
    assert!(world.reservations.is_empty() && world.charged_minor.is_empty());
}

brigade_chassis::store_suite!(a_shipment_gives_its_order_a_tracking_number_and_a_history_row_once,);

fn to_france() -> shipping_api::QuoteRequest {
    shipping_api::QuoteRequest {
        country: "FR".into(),
        items: Vec::new(),
    }
}

fn created(order_id: Uuid) -> ShipmentCreated {
    ShipmentCreated {
        order_id,
        user_id: Uuid::new_v4(),
        tracking_number: shipping_api::tracking_number(order_id),
        carrier: "Brigade Post".into(),
        estimated_delivery: "2026-12-08".into(),
    }
}

async fn deliver(db: &Db, envelope: &Envelope) -> ApplyOutcome {
    Inbox::new(db.clone())
        .apply(&orders::events::shipping(), envelope, None)
        .await
        .unwrap()
}

async fn a_shipment_gives_its_order_a_tracking_number_and_a_history_row_once(db: Db) {
    let fake = Fake::new(10);
    let store = migrated(db.clone()).await;
    let saga = saga(&store, &fake, "instance-a");
    let mut order = sample_order(&fake);
    let request: Value = serde_json::from_str(&body("FR")).unwrap();
    order.shipping = Some(NewShipping {
        address: serde_json::from_value(request["shipping_address"].clone()).unwrap(),
        quote: fake.quote(&to_france()).await.unwrap(),
    });
    let id = order.id;
    let now = brigade_chassis::time::now_ms();
    store
        .create_checkout("k", "fp", &order, saga.lease(), now, now)
        .await
        .unwrap();
    assert_eq!(
        saga.drive(id).await,
        Ended::Finished(OrderStatus::Confirmed)
    );
    let before = store.order(id).await.unwrap().unwrap();
    assert_eq!(before.shipping.as_ref().unwrap().tracking_number, None);

    let event = created(id);
    let first = Envelope::of(&event, 1).unwrap();
    assert_eq!(deliver(&db, &first).await, ApplyOutcome::Applied);
    let after = one_more_step(&store, &before, "ship", "shipped").await;
    let last = after.history.last().unwrap();
    assert!(last.detail.contains(&event.tracking_number), "{last:?}");
    let shipping = after.shipping.as_ref().unwrap();
    assert_eq!(
        shipping.tracking_number.as_ref(),
        Some(&event.tracking_number)
    );
    assert_eq!(after.status, OrderStatus::Confirmed);

    // Delivered again, or announced again under a new number: one row.
    assert_eq!(deliver(&db, &first).await, ApplyOutcome::Duplicate);
    let replayed = Envelope::of(&event, 2).unwrap();
    assert_eq!(deliver(&db, &replayed).await, ApplyOutcome::Applied);
    assert_eq!(
        store.order(id).await.unwrap().unwrap().history,
        after.history
    );

    // A shipment of an order this service does not know: nothing to record, nor to retry.
    let unknown = Envelope::of(&created(Uuid::new_v4()), 1).unwrap();
    assert_eq!(deliver(&db, &unknown).await, ApplyOutcome::Applied);
}
