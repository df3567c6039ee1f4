//! Real instances on real sockets, started the way `main` starts them: a real catalog with its
//! sample data, and the cart found through `--peers` and trusting `--jwks-file`, called through
//! the typed client that orders uses; orders' events come from a fake feed speaking the real
//! feed contract.

use std::collections::HashSet;
use std::time::Duration;

use tokio::time::Instant;

use brigade_chassis::client::{self, plain::PlainClient};
use brigade_chassis::events::Envelope;
use brigade_chassis::testing::{static_client, Instance, TestKeys};
use cart_api::CartClient;
use catalog_api::{ListProducts, Money, Product};
use http::Method;
use orders_api::events::OrderConfirmed;
use orders_api::OrderLine;
use uuid::Uuid;

use crate::support::{catalog_client, FakeFeed};

/// What every test here starts from: a real catalog with its sample data, the keys that sign
/// shoppers' tokens, and the URL of the cart's store (for as many cart instances as a test
/// starts), in a directory that lives as long as the last part.
async fn world() -> (Instance, TestKeys, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let catalog_url = format!("sqlite://{}", dir.path().join("catalog.db").display());
    let catalog = Instance::start::<catalog::Catalog>(&["--database-url", &catalog_url]).await;
    let cart_url = format!("sqlite://{}", dir.path().join("cart.db").display());
    (catalog, TestKeys::new(), cart_url, dir)
}

async fn start_cart(database_url: &str, catalog: &Instance, keys: &TestKeys) -> Instance {
    start_cart_with(database_url, format!("catalog={}", catalog.address), keys).await
}

async fn start_cart_with(database_url: &str, peers: String, keys: &TestKeys) -> Instance {
    let jwks = keys.jwks_path();
    Instance::start::<cart::Cart>(&[
        "--database-url",
        database_url,
        "--peers",
        &peers,
        "--jwks-file",
        &jwks,
    ])
    .await
}

async fn some_products(catalog: &Instance, count: u32) -> Vec<Product> {
    catalog_client(vec![catalog.address])
        .list_products(&ListProducts {
            page_size: Some(count),
            ..ListProducts::default()
        })
        .await
        .unwrap()
        .items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typed_client_drives_a_cart_priced_by_a_real_catalog() {
    let (catalog, keys, url, _dir) = world().await;
    let cart = start_cart(&url, &catalog, &keys).await;
    let client = CartClient::new(static_client("cart", vec![cart.address]));
    let products = some_products(&catalog, 2).await;
    let token = keys.token(Uuid::new_v4(), "shopper@example.com");

    let empty = client.cart(&token).await.unwrap();
    assert!(empty.lines.is_empty());
    let added = client
        .set_quantity(&token, products[0].id, 2)
        .await
        .unwrap();
    assert_eq!(added.lines[0].sku, products[0].sku);
    assert_eq!(added.lines[0].name, products[0].name);
    assert_eq!(added.lines[0].unit_price, products[0].price);
    assert_eq!(added.total.amount_minor, products[0].price.amount_minor * 2);
    client
        .set_quantity(&token, products[1].id, 1)
        .await
        .unwrap();
    let read = client.cart(&token).await.unwrap();
    assert!(read.prices_current);
    assert_eq!(read.item_count, 3);
    assert_eq!(read.version, 2);
    let removed = client.remove(&token, products[0].id).await.unwrap();
    assert_eq!(removed.lines.len(), 1);
    let cleared = client.clear(&token).await.unwrap();
    assert!(cleared.lines.is_empty());

    // The cart's problems reach the caller intact.
    let unknown = client
        .set_quantity(&token, Uuid::new_v4(), 1)
        .await
        .unwrap_err()
        .to_problem();
    assert_eq!((unknown.status, unknown.code()), (422, "unknown-product"));
    let too_many = client
        .set_quantity(&token, products[0].id, 100)
        .await
        .unwrap_err()
        .to_problem();
    assert_eq!(
        (too_many.status, too_many.code()),
        (400, "invalid-parameter")
    );
    let forged = TestKeys::new().token(Uuid::new_v4(), "mallory@example.com");
    let refused = client.cart(&forged).await.unwrap_err().to_problem();
    assert_eq!((refused.status, refused.code()), (401, "unauthorized"));
    let anonymous = PlainClient::default()
        .send(Method::GET, &format!("{}/v1/cart", cart.url()), None)
        .await
        .unwrap();
    assert_eq!(anonymous.status, 401);

    // With the catalog stopped, the cart still reads; adding is refused as unavailable.
    client
        .set_quantity(&token, products[1].id, 4)
        .await
        .unwrap();
    catalog.stop().await.unwrap();
    let stale = client.cart(&token).await.unwrap();
    assert!(!stale.prices_current);
    assert_eq!(stale.item_count, 4);
    // (Not `to_problem`: a dependency's 5xx becomes the caller's own 502.)
    match client.set_quantity(&token, products[0].id, 1).await {
        Err(client::Error::Status { problem, .. }) => {
            assert_eq!(
                (problem.status, problem.code()),
                (503, "service-unavailable")
            );
        }
        other => panic!("expected the cart's 503, got {other:?}"),
    }
    cart.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_cart_instances_sharing_one_store_lose_no_concurrent_line() {
    let (catalog, keys, url, _dir) = world().await;
    let (a, b) = tokio::join!(
        start_cart(&url, &catalog, &keys),
        start_cart(&url, &catalog, &keys)
    );
    // Calls spread over both instances.
    let client = CartClient::new(static_client("cart", vec![a.address, b.address]));
    let products = some_products(&catalog, 20).await;
    let token = keys.token(Uuid::new_v4(), "shopper@example.com");

    let mut calls = Vec::new();
    for product in &products {
        let (client, token, id) = (client.clone(), token.clone(), product.id);
        calls.push(tokio::spawn(async move {
            client.set_quantity(&token, id, 1).await
        }));
    }
    for call in calls {
        call.await.unwrap().unwrap();
    }
    let cart = client.cart(&token).await.unwrap();
    let expected: HashSet<Uuid> = products.iter().map(|p| p.id).collect();
    let found: HashSet<Uuid> = cart.lines.iter().map(|l| l.product_id).collect();
    assert_eq!(found, expected, "a concurrent PUT lost a line");
    assert_eq!(cart.version, products.len() as u64);
    a.stop().await.unwrap();
    b.stop().await.unwrap();
    catalog.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_takes_a_confirmed_orders_lines_out_of_the_cart_from_orders_feed() {
    let (catalog, keys, url, _dir) = world().await;
    let orders = FakeFeed::start().await;
    let peers = format!("catalog={};orders={}", catalog.address, orders.address);
    let cart = start_cart_with(&url, peers, &keys).await;
    let client = CartClient::new(static_client("cart", vec![cart.address]));
    let products = some_products(&catalog, 2).await;
    let user_id = Uuid::new_v4();
    let token = keys.token(user_id, "shopper@example.com");
    client
        .set_quantity(&token, products[0].id, 3)
        .await
        .unwrap();
    client
        .set_quantity(&token, products[1].id, 1)
        .await
        .unwrap();

    // Orders confirms 2 of the first product and the second: one of the first stays.
    let line = |product: &Product, quantity: u32| OrderLine {
        product_id: product.id,
        sku: product.sku.clone(),
        name: product.name.clone(),
        unit_price: product.price.clone(),
        quantity,
        line_total: Money {
            amount_minor: product.price.amount_minor * i64::from(quantity),
            currency: product.price.currency.clone(),
        },
    };
    let lines = vec![line(&products[0], 2), line(&products[1], 1)];
    let order = OrderConfirmed {
        order_id: Uuid::new_v4(),
        user_id,
        total: Money {
            amount_minor: lines.iter().map(|l| l.line_total.amount_minor).sum(),
            currency: products[0].price.currency.clone(),
        },
        lines,
        charge_id: Some(Uuid::new_v4()),
        shipping_country: None,
        cart_version: None,
    };
    orders.push(Envelope::of(&order, 1).unwrap());

    let started = Instant::now();
    let taken = loop {
        let read = client.cart(&token).await.unwrap();
        if read.lines.len() == 1 {
            break read;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the cart did not apply OrderConfirmed: {read:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(taken.lines[0].product_id, products[0].id);
    assert_eq!(taken.lines[0].quantity, 1);
    assert_eq!(taken.version, 3);
    cart.stop().await.unwrap();
    catalog.stop().await.unwrap();
}

/// Shutdown waits for the background tasks: its event consumer (orders' feed unreachable).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_stops_promptly_with_its_background_tasks() {
    brigade_chassis::testing::assert_stops_promptly::<cart::Cart>(&[]).await;
}
