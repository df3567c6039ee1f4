//! A real orders instance on a real socket, started the way `main` starts it, called through
//! the typed client. Its peers are absent here, so a checkout must fail cleanly (503, nothing
//! recorded). The end-to-end test with real cart, catalog, inventory and payments instances
//! waits for those services' crates (see the report).

use brigade_chassis::client;
use brigade_chassis::testing::{self, Instance, TestKeys};
use orders_api::{CheckoutRequest, ListOrders, OrdersClient};
use uuid::Uuid;

fn client_for(instance: &Instance) -> OrdersClient {
    OrdersClient::new(testing::static_client("orders", vec![instance.address]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_serves_orders_and_fails_a_checkout_cleanly_without_its_peers() {
    let (_db, dir) = testing::sqlite_db().await;
    let url = format!("sqlite://{}", dir.path().join("orders.db").display());
    let keys = TestKeys::new();
    let jwks = keys.jwks_path();
    // Peers that refuse connections: nothing listens on port 1.
    let flags = [
        "--database-url",
        url.as_str(),
        "--jwks-file",
        jwks.as_str(),
        "--peers",
        "cart=127.0.0.1:1;catalog=127.0.0.1:1;inventory=127.0.0.1:1;payments=127.0.0.1:1",
    ];
    let instance = Instance::start::<orders::Orders>(&flags).await;
    let orders = client_for(&instance);
    let token = keys.token(Uuid::new_v4(), "shopper@example.com");

    let page = orders.orders(&token, &ListOrders::default()).await.unwrap();
    assert_eq!(page.total, 0);
    let error = orders
        .checkout(
            &token,
            "key-1",
            &CheckoutRequest {
                card_number: "4242424242424242".into(),
                shipping_address: None,
                currency: None,
            },
        )
        .await
        .unwrap_err();
    match &error {
        client::Error::Status { problem, .. } => {
            assert_eq!(problem.status, 503, "{problem:?}");
            assert_eq!(problem.code(), "service-unavailable");
        }
        other => panic!("{other:?}"),
    }
    let audit = orders.audit().await.unwrap();
    assert_eq!(audit.orders.values().sum::<u64>(), 0);
    assert!(orders
        .order(&token, Uuid::new_v4())
        .await
        .unwrap_err()
        .is_not_found());
    instance.stop().await.unwrap();
}

/// Shutdown waits for the background tasks: its relay, its consumer and the saga recovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_stops_promptly_with_its_background_tasks() {
    brigade_chassis::testing::assert_stops_promptly::<orders::Orders>(&[]).await;
}
