//! The public API over real sockets: a gateway instance calling a real catalog instance (its own
//! SQLite store, seeded) through the chassis client, both started the way `main` starts them.
//! The happy paths, bad input on every route, and a catalog that is down; and the same for
//! recommendations, with a real recommendations instance (down, it is a 503
//! `recommendations-unavailable` that leaves the rest of the API answering).

use axum::response::IntoResponse;
use brigade_chassis::testing::{
    assert_openapi_covers_at, fetch_json, texts, Instance, JsonAnswer, TestKeys,
};
use catalog_api::Product;
use gateway::GatewayService;
use http::{Method, StatusCode};
use orders_api::events::OrderConfirmed;
use serde_json::Value;
use uuid::Uuid;

use crate::support::get;

struct System {
    gateway: Instance,
    catalog: Instance,
    _dir: tempfile::TempDir,
}

async fn start() -> System {
    let dir = tempfile::tempdir().unwrap();
    let catalog = crate::support::start_catalog(dir.path()).await;
    let peers = format!("catalog={}", catalog.address);
    let gateway = Instance::start::<GatewayService>(&["--peers", &peers]).await;
    System {
        gateway,
        catalog,
        _dir: dir,
    }
}

/// `method` `path` at `base` with `headers`, over a real socket, read as JSON.
async fn send(base: &str, method: Method, path: &str, headers: &[(&str, &str)]) -> JsonAnswer {
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    fetch_json(request.body(Default::default()).unwrap()).await
}

/// `GET path` with `authorization` as the `Authorization` header.
async fn get_authorized(base: &str, path: &str, authorization: &str) -> JsonAnswer {
    send(base, Method::GET, path, &[("authorization", authorization)]).await
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
async fn the_openapi_document_describes_exactly_the_routes_served() {
    let system = start().await;
    let document = assert_openapi_covers_at(
        &system.gateway.url(),
        "/api/v1/openapi.json",
        &[
            "GET /api/v1/products",
            "GET /api/v1/products/{id}",
            "GET /api/v1/products/{id}/recommendations",
            "GET /api/v1/products/{id}/page",
            "GET /api/v1/categories",
            "POST /api/v1/users",
            "POST /api/v1/sessions",
            "GET /api/v1/me",
            "GET /api/v1/me/recommendations",
            "GET /api/v1/cart",
            "DELETE /api/v1/cart",
            "PUT /api/v1/cart/items/{product_id}",
            "DELETE /api/v1/cart/items/{product_id}",
            "POST /api/v1/checkout",
            "GET /api/v1/orders",
            "GET /api/v1/orders/{id}",
            "POST /api/v1/shipping/quote",
            "GET /api/v1/currencies",
            "GET /api/v1/convert",
            "GET /api/v1/messages",
        ],
    )
    .await;
    // Routes that need a token say so, and the scheme is defined.
    assert_eq!(
        document["paths"]["/api/v1/cart"]["get"]["security"],
        serde_json::json!([{ "bearer": [] }])
    );
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_on_every_route_is_a_4xx_problem_that_says_what_is_wrong() {
    let system = start().await;
    let base = system.gateway.url();
    let bad_request = StatusCode::BAD_REQUEST;
    let cases: &[(&str, StatusCode, &str, &str)] = &[
        (
            "/api/v1/products?page_size=1000",
            bad_request,
            "invalid-parameter",
            "page_size",
        ),
        (
            "/api/v1/products?page_size=0",
            bad_request,
            "invalid-parameter",
            "page_size",
        ),
        (
            "/api/v1/products?page=0",
            bad_request,
            "invalid-parameter",
            "page",
        ),
        (
            "/api/v1/products?page=abc",
            bad_request,
            "invalid-query",
            "page",
        ),
        (
            "/api/v1/products?page=-1",
            bad_request,
            "invalid-query",
            "page",
        ),
        (
            "/api/v1/products?sort=cheapest",
            bad_request,
            "invalid-query",
            "sort",
        ),
        (
            "/api/v1/products?categroy=books",
            bad_request,
            "invalid-query",
            "categroy",
        ),
        (
            "/api/v1/products?category=no-such-category",
            bad_request,
            "invalid-parameter",
            "no-such-category",
        ),
        (
            "/api/v1/products/not-a-uuid",
            bad_request,
            "invalid-parameter",
            "not-a-uuid",
        ),
        (
            "/api/v1/products/00000000-0000-4000-8000-000000000000",
            StatusCode::NOT_FOUND,
            "not-found",
            "00000000-0000-4000-8000-000000000000",
        ),
        (
            "/api/v1/nothing-here",
            StatusCode::NOT_FOUND,
            "not-found",
            "/api/v1/nothing-here",
        ),
        (
            "/api/v1/categories?page=x",
            bad_request,
            "invalid-query",
            "page",
        ),
    ];
    for (path, status, code, mentions) in cases {
        get(&base, path).await.problem(*status, code, mentions);
    }
    let long_query = format!("/api/v1/products?q={}", "a".repeat(500));
    get(&base, &long_query)
        .await
        .invalid("q", "q must be at most");
    send(&base, Method::DELETE, "/api/v1/products", &[])
        .await
        .problem(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "");
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
    let text = system.catalog.metrics().await;
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
        get(&base, path).await.problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "service-unavailable",
            "catalog",
        );
    }
    // Bad input is still refused at the edge, without the catalog.
    get(&base, "/api/v1/products?page_size=1000")
        .await
        .invalid("page_size", "page_size");
}

// Recommendations: a real recommendations instance over a store filled through the service's
// own event handlers (as orders' and the catalog's events would fill it), next to the catalog.

/// Product number `n`'s id.
fn product_id(n: u128) -> Uuid {
    Uuid::from_u128(0x9a7e_0000_0000_4000_8000_0000_0000_0000 + n)
}

pub(crate) fn product(n: u128) -> Product {
    Product {
        id: product_id(n),
        sku: format!("GW-{n:04}"),
        description: "Made by a test.".into(),
        image_url: format!("/images/gw-{n}.jpg"),
        ..catalog_api::testing::product(n, 100 * n as i64, "EUR")
    }
}

/// Products 1 to 4; orders {1, 2} by `buyer`, {1, 2} and {1, 3} and {4} by others.
fn recommendations_history() -> (Vec<Product>, Vec<OrderConfirmed>) {
    let products: Vec<Product> = (1..=4).map(product).collect();
    let [one, two, three, four] = [&products[0], &products[1], &products[2], &products[3]];
    let orders = vec![
        crate::support::confirmed(BUYER, &[one, two]),
        crate::support::confirmed(Uuid::new_v4(), &[one, two]),
        crate::support::confirmed(Uuid::new_v4(), &[one, three]),
        crate::support::confirmed(Uuid::new_v4(), &[four]),
    ];
    (products, orders)
}

const BUYER: Uuid = Uuid::from_u128(0xb0b);

struct Shop {
    gateway: Instance,
    recommendations: Instance,
    _catalog: Instance,
    keys: TestKeys,
    _dir: tempfile::TempDir,
}

impl Shop {
    /// A valid token of the user who bought products 1 and 2.
    fn buyer_token(&self) -> String {
        format!("Bearer {}", self.keys.token(BUYER, "buyer@example.com"))
    }
}

async fn start_shop() -> Shop {
    let dir = tempfile::tempdir().unwrap();
    let catalog = crate::support::start_catalog(dir.path()).await;
    let (products, orders) = recommendations_history();
    let recommendations =
        crate::support::start_recommendations(dir.path(), &products, &orders).await;
    let keys = TestKeys::new();
    let peers = format!(
        "catalog={};recommendations={}",
        catalog.address, recommendations.address
    );
    let gateway =
        Instance::start::<GatewayService>(&["--peers", &peers, "--jwks-file", &keys.jwks_path()])
            .await;
    Shop {
        gateway,
        recommendations,
        _catalog: catalog,
        keys,
        _dir: dir,
    }
}

/// The product numbers and reasons of a recommendations answer.
fn ranked(body: &Value) -> Vec<(u128, String)> {
    let first = product_id(0).as_u128();
    let ids = texts(&body["items"], "product_id");
    let reasons = texts(&body["items"], "reason");
    ids.into_iter()
        .zip(reasons)
        .map(|(id, reason)| {
            (
                Uuid::parse_str(id).unwrap().as_u128() - first,
                reason.to_owned(),
            )
        })
        .collect()
}

fn together(n: u128) -> (u128, String) {
    (n, "bought_together".to_owned())
}

fn popular(n: u128) -> (u128, String) {
    (n, "popular".to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recommendations_are_proxied_for_a_product_and_for_the_signed_in_shopper() {
    let shop = start_shop().await;
    let base = shop.gateway.url();
    let path = format!("/api/v1/products/{}/recommendations?limit=2", product_id(1));
    let answer = get(&base, &path).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(ranked(&answer.body), [together(2), together(3)]);
    assert_eq!(answer.body["fallback"], false);
    // As the service answers it, item for item.
    let direct = send(
        &shop.recommendations.url(),
        Method::GET,
        &format!("/v1/recommendations/products/{}?limit=2", product_id(1)),
        &[(
            brigade_chassis::identity::HEADER,
            &brigade_chassis::testing::Harness::get()
                .token(brigade_chassis::testing::HARNESS, "recommendations"),
        )],
    )
    .await;
    assert_eq!(answer.body, direct.body);
    assert_eq!(answer.body["items"][0]["name"], "Product 2");
    assert_eq!(answer.body["items"][0]["price"]["amount_minor"], 200);

    // The default limit (4), topped up with popular products; a new product gets those alone.
    let answer = get(
        &base,
        &format!("/api/v1/products/{}/recommendations", product_id(1)),
    )
    .await;
    assert_eq!(ranked(&answer.body), [together(2), together(3), popular(4)]);
    let answer = get(
        &base,
        &format!("/api/v1/products/{}/recommendations", Uuid::new_v4()),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["fallback"], true);

    // The shopper bought 1 and 2: what went with them, never what they bought.
    let token = shop.buyer_token();
    let mine = get_authorized(&base, "/api/v1/me/recommendations", &token).await;
    assert_eq!(mine.status, 200, "{mine:?}");
    assert_eq!(ranked(&mine.body), [together(3), popular(4)]);
    let direct: Value = brigade_chassis::testing::harness_get_json(
        "recommendations",
        &format!(
            "{}/v1/recommendations/users/{BUYER}",
            shop.recommendations.url()
        ),
    )
    .await
    .unwrap();
    assert_eq!(mine.body, direct);
    // Someone else, with no purchases, gets the popular products.
    let stranger = format!(
        "Bearer {}",
        shop.keys.token(Uuid::new_v4(), "new@example.com")
    );
    let theirs = get_authorized(&base, "/api/v1/me/recommendations?limit=1", &stranger).await;
    assert_eq!(ranked(&theirs.body), [popular(1)]);

    let openapi = get(&base, "/api/v1/openapi.json").await;
    for path in [
        "/api/v1/products/{id}/recommendations",
        "/api/v1/me/recommendations",
    ] {
        assert!(
            openapi.body["paths"][path]["get"].is_object(),
            "{path} is not documented"
        );
    }
    assert_eq!(
        openapi.body["paths"]["/api/v1/me/recommendations"]["get"]["security"],
        serde_json::json!([{ "bearer": [] }])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recommendation_routes_refuse_bad_input_at_the_edge_and_me_needs_a_token() {
    let shop = start_shop().await;
    let base = shop.gateway.url();
    let token = shop.buyer_token();
    let product = format!("/api/v1/products/{}/recommendations", product_id(1));
    let cases: Vec<(String, &str)> = vec![
        ("/api/v1/products/kettle/recommendations".to_owned(), "id"),
        (format!("{product}?limit=0"), "limit"),
        (format!("{product}?limit=21"), "limit"),
        (format!("{product}?limit=abc"), "limit"),
        ("/api/v1/me/recommendations?limit=-3".to_owned(), "limit"),
        ("/api/v1/me/recommendations?limit=".to_owned(), "limit"),
    ];
    for (path, parameter) in &cases {
        send(&base, Method::GET, path, &[("authorization", &token)])
            .await
            .invalid(parameter, parameter);
    }
    get(&base, &format!("{product}?count=3")).await.problem(
        StatusCode::BAD_REQUEST,
        "invalid-query",
        "count",
    );
    // None of that cost a hop: the service counted no request on its routes.
    let text = shop.recommendations.metrics().await;
    assert!(
        !text.contains("route=\"/v1/recommendations/"),
        "bad input reached the service: {text}"
    );

    // /me is the token's user: no token, or a bad one, is a 401.
    let anonymous = get(&base, "/api/v1/me/recommendations").await;
    anonymous.problem(StatusCode::UNAUTHORIZED, "unauthorized", "");
    let forged = get_authorized(&base, "/api/v1/me/recommendations", "Bearer not.a.token").await;
    forged.problem(StatusCode::UNAUTHORIZED, "unauthorized", "");
    let other_keys = TestKeys::new();
    let untrusted = format!("Bearer {}", other_keys.token(BUYER, "buyer@example.com"));
    let answer = get_authorized(&base, "/api/v1/me/recommendations", &untrusted).await;
    answer.problem(StatusCode::UNAUTHORIZED, "unauthorized", "");
}

/// A recommendations "instance" that fails every request with a 500 problem.
async fn failing_recommendations() -> std::net::SocketAddr {
    let router = axum::Router::new()
        .fallback(|| async { brigade_chassis::Problem::internal().into_response() });
    brigade_chassis::testing::serve_in_background(router).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recommendations_down_or_failing_is_a_503_recommendations_unavailable_problem() {
    let shop = start_shop().await;
    let base = shop.gateway.url();
    let token = shop.buyer_token();
    let product = format!("/api/v1/products/{}/recommendations", product_id(1));
    assert_eq!(get(&base, &product).await.status, 200);
    shop.recommendations.stop().await.unwrap();
    for (path, auth) in [
        (product.as_str(), ""),
        ("/api/v1/me/recommendations", token.as_str()),
    ] {
        let headers: &[(&str, &str)] = if auth.is_empty() {
            &[]
        } else {
            &[("authorization", auth)]
        };
        send(&base, Method::GET, path, headers).await.problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "recommendations-unavailable",
            "recommendations",
        );
    }
    // The rest of the API does not depend on it; bad input is still refused at the edge.
    assert_eq!(get(&base, "/api/v1/categories").await.status, 200);
    get(&base, &format!("{product}?limit=0"))
        .await
        .invalid("limit", "limit");

    // An instance that answers, but fails: the same problem, saying it failed.
    let failing = failing_recommendations().await;
    let gateway = Instance::start::<GatewayService>(&[
        "--peers",
        &format!("recommendations={failing}"),
        "--jwks-file",
        &shop.keys.jwks_path(),
    ])
    .await;
    get(&gateway.url(), &product).await.problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "recommendations-unavailable",
        "failed (500)",
    );
    gateway.stop().await.unwrap();
}

/// The gateway has no background work of its own; it stops as promptly as the chassis lets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_stops_promptly() {
    brigade_chassis::testing::assert_stops_promptly::<GatewayService>(&[]).await;
}
