//! Real instances on real sockets, started the way `main` starts them, called through the typed
//! client that other services use.

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::http::Method;
use brigade_chassis::client::plain::PlainClient;
use brigade_chassis::events::FeedPage;
use brigade_chassis::service::{self, SeedArgs, Service};
use brigade_chassis::shutdown::Reason;
use brigade_chassis::testing::{self, static_client};
use catalog::{Catalog, SampleData};
use catalog_api::{CatalogClient, ListProducts, ProductPage, Sort};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// An instance serving on `listener` over `database_url` until `stop` fires.
fn instance(
    listener: TcpListener,
    database_url: &str,
    stop: oneshot::Receiver<()>,
) -> impl Future<Output = Result<(), service::Error>> {
    let args = testing::service_args(&[
        "--database-url",
        database_url,
        "--log",
        "warn",
        "--deregister-delay",
        "0ms",
    ]);
    service::serve(
        Catalog::INFO,
        args,
        listener,
        |ctx| service::build::<Catalog>(ctx, SeedArgs::new(SampleData::Load)),
        async move {
            let _ = stop.await;
            Reason::Requested
        },
    )
}

/// Reads the instance's event feed to its end: one `ProductChanged` per product, however many
/// instances raced to load the catalog.
async fn every_product_is_announced_once(address: SocketAddr, expected: u64) {
    let mut subjects = HashSet::new();
    let mut after = 0;
    while (subjects.len() as u64) < expected {
        let page: FeedPage = brigade_chassis::testing::harness_get_json(
            "catalog",
            &format!("http://{address}/v1/events/feed?after={after}&limit=500&wait_ms=5000"),
        )
        .await
        .unwrap();
        assert!(!page.events.is_empty(), "the feed stopped at {after}");
        for item in page.events {
            assert_eq!(item.event.event_type, "brigade.catalog.ProductChanged");
            assert!(subjects.insert(item.event.subject), "announced twice");
            after = item.position;
        }
    }
    assert_eq!(subjects.len() as u64, expected);
}

async fn wait_ready(address: SocketAddr) {
    let client = PlainClient::new(Duration::from_secs(1));
    let url = format!("http://{address}/readyz");
    for _ in 0..500 {
        if let Ok(answer) = client.send(Method::GET, &url, None).await {
            if answer.status.is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the instance at {address} did not become ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_starting_at_once_on_one_fresh_store_both_serve_the_same_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("catalog.db").display());
    two_instances_start_at_once(&url).await;
}

/// The same race on a fresh PostgreSQL database, as a Kubernetes rollout of the catalog's
/// replicas (deploy/kubernetes: two at least) starts it: both migrate and load at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_starting_at_once_on_one_fresh_postgres_database_both_serve_the_same_catalog()
{
    let Some(server) = testing::postgres_server().await else {
        return;
    };
    let name = testing::unique_namespace("catalog_race_");
    let admin = server.admin().await.unwrap();
    assert!(admin.create_if_missing(&name).await.unwrap(), "{name}");
    two_instances_start_at_once(&server.database_url(&name)).await;
    admin.drop_if_exists(&name).await.unwrap();
    admin.close().await;
}

/// Starts two catalog instances on `url` in the same moment, racing to migrate and load it,
/// and checks that both serve the whole catalog, announced once.
async fn two_instances_start_at_once(url: &str) {
    let url = url.to_owned();
    let listeners = [
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
    ];
    let addresses: Vec<SocketAddr> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
    let [listener_a, listener_b] = listeners;
    let (stop_a, stopped_a) = oneshot::channel();
    let (stop_b, stopped_b) = oneshot::channel();
    // Both start in the same moment, racing to migrate and load the same new file.
    // An instance that fails to start fails the test with its error, at once.
    let a = instance(listener_a, &url, stopped_a);
    let b = instance(listener_b, &url, stopped_b);
    let servers = async {
        tokio::join!(async { a.await.expect("instance a failed") }, async {
            b.await.expect("instance b failed")
        },);
    };
    let test = async {
        let expected = catalog::seed::sample_catalog().products.len() as u64;
        for address in &addresses {
            wait_ready(*address).await;
            // Each instance, asked directly, has the whole catalog.
            let page: ProductPage = testing::harness_get_json(
                "catalog",
                &format!("http://{address}/v1/products?page_size=1"),
            )
            .await
            .unwrap();
            assert_eq!(page.total, expected, "{address}");
        }
        calls_through_the_typed_client(addresses.clone()).await;
        every_product_is_announced_once(addresses[1], expected).await;
        stop_a.send(()).unwrap();
        stop_b.send(()).unwrap();
    };
    tokio::pin!(servers);
    tokio::select! {
        () = &mut servers => panic!("the instances stopped before the test was done"),
        () = test => {}
    }
    servers.await;
}

async fn calls_through_the_typed_client(addresses: Vec<SocketAddr>) {
    let client = CatalogClient::new(static_client("catalog", addresses));

    let first = client
        .list_products(&ListProducts::default())
        .await
        .unwrap();
    assert_eq!(first.items.len(), catalog_api::DEFAULT_PAGE_SIZE as usize);

    let query = ListProducts {
        category: Some("kitchen".into()),
        q: Some("copper".into()),
        page_size: Some(3),
        sort: Some(Sort::PriceDesc),
        ..ListProducts::default()
    };
    let page = client.list_products(&query).await.unwrap();
    assert_eq!(page.items.len(), 3);
    assert!(page
        .items
        .windows(2)
        .all(|w| w[0].price.amount_minor >= w[1].price.amount_minor));

    let product = client.get_product(page.items[0].id).await.unwrap();
    assert_eq!(product, page.items[0]);
    let batch = client
        .products_by_ids(&[page.items[2].id, page.items[1].id])
        .await
        .unwrap();
    assert_eq!(
        batch.items,
        vec![page.items[2].clone(), page.items[1].clone()]
    );
    let categories = client.categories().await.unwrap();
    assert!(categories.items.len() >= 10);

    // The catalog's own problems reach the caller intact.
    let missing = client.get_product(uuid::Uuid::new_v4()).await.unwrap_err();
    assert!(missing.is_not_found(), "{missing:?}");
    let invalid = ListProducts {
        page_size: Some(1000),
        ..ListProducts::default()
    };
    let refused = client
        .list_products(&invalid)
        .await
        .unwrap_err()
        .to_problem();
    assert_eq!((refused.status, refused.code()), (400, "invalid-parameter"));
}

/// Shutdown waits for the background tasks: its outbox relay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_stops_promptly_with_its_background_tasks() {
    brigade_chassis::testing::assert_stops_promptly::<catalog::Catalog>(&[]).await;
}
