//! Real instances on real sockets, started the way `main` starts them, fed through the chassis'
//! embedded transport by fake producers (the catalog's and orders' event feeds, speaking the
//! real feed contract), and called through the typed client the gateway uses.

use std::time::Duration;

use brigade_chassis::client::plain::PlainClient;
use brigade_chassis::events::Envelope;
use brigade_chassis::testing::{addresses, static_client, FakeFeed, Instance};
use catalog_api::events::ProductChanged;
use recommendations_api::Reason::{BoughtTogether as Together, Popular};
use recommendations_api::{Recommendations, RecommendationsClient};
use uuid::Uuid;

use crate::support::{id, order, product, ranked};

async fn start(url: &str, catalog: &FakeFeed, orders: &FakeFeed) -> Instance {
    let peers = format!("catalog={};orders={}", catalog.address, orders.address);
    Instance::start::<recommendations::Recommendations>(&["--database-url", url, "--peers", &peers])
        .await
}

fn client(instances: &[&Instance]) -> RecommendationsClient {
    RecommendationsClient::new(static_client("recommendations", addresses(instances)))
}

/// Waits until every instance has read both feeds to their end at least twice.
async fn caught_up(feeds: &[&FakeFeed], instances: usize) {
    for _ in 0..200 {
        if feeds.iter().all(|f| f.caught_up() >= 2 * instances) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the instances did not read the feeds to their end within 10 s");
}

async fn for_product(client: &RecommendationsClient, n: u128) -> Recommendations {
    client.for_product(id(n), 4).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_store_count_each_delivered_event_once() {
    let catalog = FakeFeed::start().await;
    let orders = FakeFeed::start().await;
    for n in [1, 2, 3, 4] {
        catalog.push(
            Envelope::of(
                &ProductChanged {
                    product: product(n, 100),
                },
                1,
            )
            .unwrap(),
        );
    }
    let user = Uuid::new_v4();
    let first = Envelope::of(&order(user, &[(1, 1), (2, 1)]), 1).unwrap();
    orders.push(first.clone());
    orders.push(Envelope::of(&order(Uuid::new_v4(), &[(1, 2), (3, 1)]), 1).unwrap());
    // An at-least-once transport may deliver an event again: the feed repeats the first order.
    orders.push(first);
    orders.push(Envelope::of(&order(Uuid::new_v4(), &[(4, 1)]), 1).unwrap());

    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        dir.path().join("recommendations.db").display()
    );
    // Both start in the same moment, racing to migrate the same new file and to consume.
    let (a, b) = tokio::join!(
        start(&url, &catalog, &orders),
        start(&url, &catalog, &orders)
    );
    caught_up(&[&catalog, &orders], 2).await;

    let recommendations = client(&[&a, &b]);
    let answer = for_product(&recommendations, 1).await;
    assert_eq!(
        ranked(&answer),
        [(2, Together, 1), (3, Together, 1), (4, Popular, 1)]
    );
    assert!(!answer.fallback);
    let mine = recommendations.for_user(user, 4).await.unwrap();
    assert_eq!(ranked(&mine), [(3, Together, 1), (4, Popular, 1)]);

    // Later events flow to the running instances: a product renamed, then a facts change that
    // can never be stored, which is parked (and served at /v1/events/parked) while the rest
    // flows on.
    let mut renamed = product(2, 150);
    renamed.name = "Renamed".into();
    catalog.push(Envelope::of(&ProductChanged { product: renamed }, 2).unwrap());
    let poison = Envelope::of(
        &ProductChanged {
            product: product(3, -1),
        },
        2,
    )
    .unwrap();
    catalog.push(poison.clone());
    orders.push(Envelope::of(&order(Uuid::new_v4(), &[(2, 1), (1, 1)]), 1).unwrap());
    caught_up(&[&catalog, &orders], 2).await;
    let answer = for_product(&recommendations, 1).await;
    assert_eq!(
        ranked(&answer),
        [(2, Together, 2), (3, Together, 1), (4, Popular, 1)]
    );
    assert_eq!(answer.items[0].name, "Renamed");
    assert_eq!(answer.items[0].price.amount_minor, 150);
    assert_eq!(
        answer.items[1].price.amount_minor, 100,
        "3's facts stay as they were"
    );
    let parked = PlainClient::new(Duration::from_secs(2))
        .send(
            http::Method::GET,
            &format!("{}/v1/events/parked", a.url()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(parked.status, 200);
    let parked: serde_json::Value = serde_json::from_slice(&parked.body).unwrap();
    let items = parked["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{parked}");
    assert_eq!(items[0]["id"], poison.id);
    assert!(items[0]["error"]
        .as_str()
        .unwrap()
        .contains("negative price"));

    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

/// Shutdown waits for the background tasks: its two consumers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_stops_promptly_with_its_background_tasks() {
    brigade_chassis::testing::assert_stops_promptly::<recommendations::Recommendations>(&[]).await;
}
