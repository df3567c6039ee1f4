//! A real instance on a real socket, fed through the chassis' embedded transport by a fake
//! orders feed, and called through the typed client.

use std::time::Duration;

use brigade_chassis::events::Envelope;
use brigade_chassis::testing::{
    addresses, assert_stops_promptly, static_client, FakeFeed, Instance,
};
use shipping_api::{QuoteItem, QuoteRequest, ShippingClient};

use crate::support::confirmed;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmed_order_on_the_feed_ships_once_and_the_client_reads_it() {
    let orders = FakeFeed::start().await;
    let order = confirmed(Some("GB"));
    let envelope = Envelope::of(&order, 1).unwrap();
    orders.push(envelope.clone());
    // An at-least-once transport may deliver it again.
    orders.push(envelope);

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shipping.db").display());
    let peers = format!("orders={}", orders.address);
    let instance =
        Instance::start::<shipping::Shipping>(&["--database-url", &url, "--peers", &peers]).await;
    let client = ShippingClient::new(static_client("shipping", addresses(&[&instance])));

    let mut shipment = None;
    for _ in 0..200 {
        match client.shipment(order.order_id).await {
            Ok(found) => {
                shipment = Some(found);
                break;
            }
            Err(e) if e.is_not_found() => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("{e}"),
        }
    }
    let shipment = shipment.expect("the order shipped within 10 s");
    assert_eq!(shipment.carrier, "EuroParcel");
    assert_eq!(shipment.country, "GB");

    let quote = client.quote(&to("GB")).await.unwrap();
    assert_eq!(quote.cost.amount_minor, 1490);
    let unknown = client.quote(&to("ZZ")).await.unwrap_err();
    assert_eq!(
        unknown.to_problem().code(),
        shipping_api::problems::UNKNOWN_COUNTRY
    );
    instance.stop().await.unwrap();
}

/// One unit of 500 g to `country`.
fn to(country: &str) -> QuoteRequest {
    QuoteRequest {
        country: country.to_owned(),
        items: vec![QuoteItem {
            sku: "A".into(),
            quantity: 1,
            unit_weight_grams: None,
        }],
    }
}

#[tokio::test]
async fn an_instance_stops_promptly() {
    assert_stops_promptly::<shipping::Shipping>(&[]).await;
}
