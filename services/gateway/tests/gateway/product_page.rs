//! `/api/v1/products/{id}/page` over real sockets: a gateway calling real catalog, inventory and
//! recommendations instances, each started the way `main` starts it. Complete; without
//! recommendations (stopped, never there, or too slow: the page waits at most the cap, and once
//! the breaker is open, not at all); without stock; and refused input.
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use brigade_chassis::testing::{Instance, JsonAnswer};
use catalog_api::{Product, ProductPage};
use http::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::get;

/// Units of the first product in stock; the second has none, the third is not stocked at all.
const STOCKED: u64 = 7;

struct Shop {
    gateway: Instance,
    catalog: Instance,
    inventory: Instance,
    recommendations: Instance,
    /// Three sample products: bought together as {0, 1} twice and {0, 2} once.
    products: Vec<Product>,
    _dir: tempfile::TempDir,
}

/// The page of `product`.
fn page_of(product: &Product) -> String {
    format!("/api/v1/products/{}/page", product.id)
}

async fn start_shop() -> Shop {
    let dir = tempfile::tempdir().unwrap();
    let catalog = crate::support::start_catalog(dir.path()).await;
    let listing: ProductPage = brigade_chassis::testing::harness_get_json(
        "catalog",
        &format!("{}/v1/products?page_size=3", catalog.url()),
    )
    .await
    .unwrap();
    let products = listing.items;
    let [a, b, c] = [&products[0], &products[1], &products[2]];
    let orders = [
        crate::support::confirmed(Uuid::new_v4(), &[a, b]),
        crate::support::confirmed(Uuid::new_v4(), &[a, b]),
        crate::support::confirmed(Uuid::new_v4(), &[a, c]),
    ];
    let recommendations =
        crate::support::start_recommendations(dir.path(), &products, &orders).await;
    let inventory = start_inventory(dir.path(), &[(&a.sku, STOCKED), (&b.sku, 0)]).await;
    let gateway = start_gateway(&[
        ("catalog", catalog.address),
        ("inventory", inventory.address),
        ("recommendations", recommendations.address),
    ])
    .await;
    Shop {
        gateway,
        catalog,
        inventory,
        recommendations,
        products,
        _dir: dir,
    }
}

/// An inventory instance with no sample stock, then `stock` set through its own API.
async fn start_inventory(dir: &std::path::Path, stock: &[(&str, u64)]) -> Instance {
    let url = format!("sqlite://{}", dir.join("inventory.db").display());
    let inventory =
        Instance::start::<inventory::Inventory>(&["--database-url", &url, "--no-seed"]).await;
    for (sku, units) in stock {
        let _: inventory_api::StockLevel = brigade_chassis::testing::harness_send_json(
            "inventory",
            http::Method::PUT,
            &format!(
                "{}{}",
                inventory.url(),
                inventory_api::paths::stock_level(sku)
            ),
            &json!({ "stock": units }),
        )
        .await
        .unwrap();
    }
    inventory
}

/// A gateway with the default caps, whose discovery knows `peers` only.
async fn start_gateway(peers: &[(&str, SocketAddr)]) -> Instance {
    let peers = peers
        .iter()
        .map(|(name, address)| format!("{name}={address}"))
        .collect::<Vec<_>>()
        .join(";");
    Instance::start::<gateway::GatewayService>(&["--peers", &peers]).await
}

/// The ids of a page's recommended products, best first.
fn recommended(page: &Value) -> Vec<String> {
    page["recommendations"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["product_id"].as_str().unwrap().to_owned())
        .collect()
}

fn ids(products: &[&Product]) -> Vec<String> {
    products.iter().map(|p| p.id.to_string()).collect()
}

/// Asserts a page answered without recommendations, and gives it.
fn without_recommendations(answer: JsonAnswer) -> Value {
    let page = answer.ok();
    assert_eq!(
        page["recommendations"],
        json!({ "status": "unavailable", "items": [] }),
        "{page}"
    );
    assert_eq!(page["degraded"], json!(["recommendations"]), "{page}");
    page
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complete_page_has_the_product_its_stock_and_what_was_bought_with_it() {
    let shop = start_shop().await;
    let base = shop.gateway.url();
    let [a, b, c] = [&shop.products[0], &shop.products[1], &shop.products[2]];

    let page = get(&base, &format!("{}?limit=2", page_of(&shop.products[0])))
        .await
        .ok();
    // The product as the catalog gives it.
    let direct: Value = brigade_chassis::testing::harness_get_json(
        "catalog",
        &format!("{}/v1/products/{}", shop.catalog.url(), a.id),
    )
    .await
    .unwrap();
    assert_eq!(page["product"], direct);
    assert_eq!(
        page["availability"],
        json!({ "status": "in_stock", "available": STOCKED })
    );
    assert_eq!(page["recommendations"]["status"], "available");
    assert_eq!(page["recommendations"]["fallback"], false);
    assert_eq!(recommended(&page), ids(&[b, c]));
    assert_eq!(
        page["recommendations"]["items"][0]["reason"],
        "bought_together"
    );
    assert_eq!(page["degraded"], json!([]));

    // The limit's default (4) and rules are the recommendations route's.
    let page = get(&base, &page_of(&shop.products[1])).await.ok();
    assert_eq!(recommended(&page), ids(&[a, c]));
    let one = get(&base, &format!("{}?limit=1", page_of(&shop.products[0])))
        .await
        .ok();
    assert_eq!(recommended(&one), ids(&[b]));

    // No units left, and a SKU the inventory does not stock: out of stock, not unknown.
    for n in [1, 2] {
        let page = get(&base, &page_of(&shop.products[n])).await.ok();
        assert_eq!(
            page["availability"],
            json!({ "status": "out_of_stock", "available": 0 }),
            "{page}"
        );
        assert_eq!(page["degraded"], json!([]));
    }

    let openapi = get(&base, "/api/v1/openapi.json").await.ok();
    let documented = &openapi["paths"]["/api/v1/products/{id}/page"]["get"];
    assert!(documented.is_object(), "the page is not documented");
    assert!(openapi["components"]["schemas"]["ProductView"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_and_unknown_products_are_problems() {
    let shop = start_shop().await;
    let base = shop.gateway.url();
    let page = page_of(&shop.products[0]);
    get(&base, "/api/v1/products/kettle/page")
        .await
        .invalid("id", "`kettle` is not a product id");
    for limit in ["0", "21", "abc", ""] {
        get(&base, &format!("{page}?limit={limit}"))
            .await
            .invalid("limit", "from 1 to 20");
    }
    get(&base, &format!("{page}?count=3")).await.problem(
        StatusCode::BAD_REQUEST,
        "invalid-query",
        "count",
    );
    let unknown = Uuid::new_v4();
    get(&base, &format!("/api/v1/products/{unknown}/page"))
        .await
        .problem(StatusCode::NOT_FOUND, "not-found", &unknown.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_recommendations_the_page_has_everything_else_and_says_what_is_missing() {
    let shop = start_shop().await;
    let expected_stock = json!({ "status": "in_stock", "available": STOCKED });

    // The service stopped: its address refuses connections.
    shop.recommendations.stop().await.unwrap();
    let page = without_recommendations(get(&shop.gateway.url(), &page_of(&shop.products[0])).await);
    assert_eq!(page["product"]["id"], shop.products[0].id.to_string());
    assert_eq!(page["availability"], expected_stock);

    // No instance known at all.
    let gateway = start_gateway(&[
        ("catalog", shop.catalog.address),
        ("inventory", shop.inventory.address),
    ])
    .await;
    let page = without_recommendations(get(&gateway.url(), &page_of(&shop.products[0])).await);
    assert_eq!(page["availability"], expected_stock);
    gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_inventory_the_stock_is_unknown_and_without_the_catalog_only_products_read_before_have_a_page(
) {
    let shop = start_shop().await;
    let base = shop.gateway.url();
    shop.inventory.stop().await.unwrap();
    let page = get(&base, &page_of(&shop.products[0])).await.ok();
    assert_eq!(
        page["availability"],
        json!({ "status": "unknown", "available": null })
    );
    assert_eq!(page["degraded"], json!(["availability"]));
    assert_eq!(page["recommendations"]["status"], "available");
    assert_eq!(page["product"]["sku"], shop.products[0].sku);

    // Both optional parts missing: still a page.
    shop.recommendations.stop().await.unwrap();
    let page = get(&base, &page_of(&shop.products[0])).await.ok();
    assert_eq!(page["degraded"], json!(["availability", "recommendations"]));

    // The product is required: one read before is kept (a product never changes), so its page
    // still answers without the catalog; one never read has no page.
    shop.catalog.stop().await.unwrap();
    let page = get(&base, &page_of(&shop.products[0])).await.ok();
    assert_eq!(page["product"]["sku"], shop.products[0].sku);
    assert_eq!(page["degraded"], json!(["availability", "recommendations"]));
    get(&base, &page_of(&shop.products[1])).await.problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "service-unavailable",
        "catalog",
    );
}

/// A recommendations "instance" that answers nothing for 2 s, counting the requests it gets.
async fn slow_recommendations() -> (SocketAddr, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let router = axum::Router::new().fallback(move || {
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(2)).await;
            axum::Json(json!({ "items": [], "fallback": true }))
        }
    });
    let address = brigade_chassis::testing::serve_in_background(router).await;
    (address, hits)
}

/// GET, asserting a functional bound (not a benchmark): far below the slow service's 2 s.
async fn timed_get(base: &str, path: &str) -> JsonAnswer {
    let started = Instant::now();
    let answer = get(base, path).await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1500), "{path} took {took:?}");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_recommendations_cost_the_page_at_most_their_cap_then_nothing() {
    let shop = start_shop().await;
    let (slow, hits) = slow_recommendations().await;
    let gateway = start_gateway(&[
        ("catalog", shop.catalog.address),
        ("inventory", shop.inventory.address),
        ("recommendations", slow),
    ])
    .await;
    let base = gateway.url();
    let page = page_of(&shop.products[0]);

    // The breaker decides on 10 calls at the least; all of these time out.
    for _ in 0..12 {
        let page = without_recommendations(timed_get(&base, &page).await);
        assert_eq!(page["availability"]["status"], "in_stock");
    }
    let seen = hits.load(Ordering::SeqCst);
    assert!(seen >= 10, "the service was asked {seen} times");

    // Open: later pages, and the recommendations route, no longer ask the service.
    for _ in 0..3 {
        without_recommendations(timed_get(&base, &page).await);
    }
    get(
        &base,
        &format!("/api/v1/products/{}/recommendations", shop.products[0].id),
    )
    .await
    .problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "recommendations-unavailable",
        "circuit breaker is open",
    );
    assert_eq!(hits.load(Ordering::SeqCst), seen);
    gateway.stop().await.unwrap();
}
