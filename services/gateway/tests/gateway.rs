//! The public API over real sockets: a gateway instance calling a real catalog instance (its own
//! SQLite store, seeded) through the chassis client, both started the way `main` starts them.
//! The happy paths, bad input on every route, and a catalog that is down.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use brigade_chassis::client::plain::PlainClient;
use brigade_chassis::testing::Instance;
use catalog::SampleData;
use http::{Method, StatusCode};
use serde_json::Value;

struct System {
    gateway: Instance,
    catalog: Instance,
    _dir: tempfile::TempDir,
}

async fn start() -> System {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("catalog.db").display());
    let catalog = Instance::start(catalog::INFO, &["--database-url", &url], |ctx| {
        catalog::build(ctx, SampleData::Load)
    })
    .await;
    let peers = format!("catalog={}", catalog.address);
    let gateway = Instance::start(gateway::INFO, &["--peers", &peers], gateway::build).await;
    System {
        gateway,
        catalog,
        _dir: dir,
    }
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    content_type: String,
    body: Value,
}

async fn send(base: &str, method: Method, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let answer = PlainClient::new(Duration::from_secs(10))
        .send_request(request.body(Default::default()).unwrap())
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let content_type = answer
        .headers
        .get(http::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = serde_json::from_slice(&answer.body).unwrap_or_else(|e| {
        panic!(
            "{path}: not JSON ({e}): {}",
            String::from_utf8_lossy(&answer.body)
        )
    });
    Answer {
        status: answer.status,
        content_type,
        body,
    }
}

async fn get(base: &str, path: &str) -> Answer {
    send(base, Method::GET, path, &[]).await
}

/// Asserts a 4xx problem document whose detail mentions `mentions`.
fn assert_problem(answer: &Answer, status: u16, mentions: &str) {
    assert_eq!(answer.status.as_u16(), status, "{answer:?}");
    assert_eq!(
        answer.content_type, "application/problem+json",
        "{answer:?}"
    );
    assert_eq!(answer.body["status"], status, "{answer:?}");
    let detail = answer.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(mentions),
        "detail `{detail}` does not mention `{mentions}`"
    );
    assert!(
        answer.body["trace_id"]
            .as_str()
            .is_some_and(|t| t.len() == 32),
        "{answer:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shoppers_browse_the_catalog_through_the_gateway() {
    let system = start().await;
    let base = system.gateway.url();

    let categories = get(&base, "/api/v1/categories").await;
    assert_eq!(categories.status, 200, "{categories:?}");
    let list = categories.body["items"].as_array().unwrap();
    assert!(list.len() >= 10, "{list:?}");
    let slug = list[0]["slug"].as_str().unwrap().to_owned();

    let page = get(
        &base,
        &format!("/api/v1/products?category={slug}&page=2&page_size=5"),
    )
    .await;
    assert_eq!(page.status, 200, "{page:?}");
    let items = page.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert!(
        items.iter().all(|p| p["category"] == slug.as_str()),
        "{items:?}"
    );
    assert_eq!(page.body["page"], 2);

    // Full-text search finds products by a word of their own name.
    let name = items[0]["name"].as_str().unwrap();
    let word = name.split_whitespace().max_by_key(|w| w.len()).unwrap();
    let found = get(&base, &format!("/api/v1/products?q={word}")).await;
    assert_eq!(found.status, 200, "{found:?}");
    assert!(
        found.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == name),
        "searching `{word}` did not find `{name}`"
    );

    let id = items[0]["id"].as_str().unwrap();
    let one = get(&base, &format!("/api/v1/products/{id}")).await;
    assert_eq!(one.status, 200, "{one:?}");
    assert_eq!(one.body, items[0]);

    let openapi = get(&base, "/api/v1/openapi.json").await;
    assert_eq!(openapi.status, 200);
    for path in [
        "/api/v1/products",
        "/api/v1/products/{id}",
        "/api/v1/categories",
    ] {
        assert!(
            openapi.body["paths"].get(path).is_some(),
            "{path} is not documented"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_on_every_route_is_a_4xx_problem_that_says_what_is_wrong() {
    let system = start().await;
    let base = system.gateway.url();
    let cases: &[(&str, u16, &str)] = &[
        ("/api/v1/products?page_size=1000", 400, "page_size"),
        ("/api/v1/products?page_size=0", 400, "page_size"),
        ("/api/v1/products?page=0", 400, "page"),
        ("/api/v1/products?page=abc", 400, "page"),
        ("/api/v1/products?page=-1", 400, "page"),
        ("/api/v1/products?sort=cheapest", 400, "sort"),
        ("/api/v1/products?categroy=books", 400, "categroy"),
        (
            "/api/v1/products?category=no-such-category",
            400,
            "no-such-category",
        ),
        ("/api/v1/products/not-a-uuid", 400, "not-a-uuid"),
        (
            "/api/v1/products/00000000-0000-4000-8000-000000000000",
            404,
            "00000000-0000-4000-8000-000000000000",
        ),
        ("/api/v1/nothing-here", 404, "/api/v1/nothing-here"),
        ("/api/v1/categories?page=x", 400, "page"),
    ];
    for (path, status, mentions) in cases {
        let answer = get(&base, path).await;
        assert_problem(&answer, *status, mentions);
    }
    let long_query = format!("/api/v1/products?q={}", "a".repeat(500));
    assert_problem(&get(&base, &long_query).await, 400, "q must be at most");
    let wrong_method = send(&base, Method::DELETE, "/api/v1/products", &[]).await;
    assert_problem(&wrong_method, 405, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trace_travels_to_the_catalog_and_back_into_problems() {
    let system = start().await;
    let base = system.gateway.url();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace_id}-00f067aa0ba902b7-01");
    // The catalog's 404 passes through the gateway, carrying the caller's trace id.
    let answer = send(
        &base,
        Method::GET,
        "/api/v1/products/00000000-0000-4000-8000-000000000000",
        &[("traceparent", &traceparent)],
    )
    .await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.body["trace_id"], trace_id);
    // The catalog saw the call as a request of its own, counted on its route.
    let metrics = PlainClient::new(Duration::from_secs(2))
        .send(
            Method::GET,
            &format!("{}/metrics", system.catalog.url()),
            None,
        )
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.lines()
            .any(|l| l.starts_with("http_server_requests_total{")
                && l.contains(r#"route="/v1/products/{id}""#)),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_that_is_down_is_a_503_problem_not_a_500() {
    let system = start().await;
    let base = system.gateway.url();
    assert_eq!(get(&base, "/api/v1/categories").await.status, 200);
    system.catalog.stop().await.unwrap();
    for path in [
        "/api/v1/categories",
        "/api/v1/products",
        "/api/v1/products/00000000-0000-4000-8000-000000000000",
    ] {
        let answer = get(&base, path).await;
        assert_problem(&answer, 503, "catalog");
    }
    // Bad input is still refused at the edge, without the catalog.
    assert_problem(
        &get(&base, "/api/v1/products?page_size=1000").await,
        400,
        "page_size",
    );
}
