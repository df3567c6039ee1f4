//! Every route in process, through the same middleware as a running instance: the happy paths,
//! and bad input on every route answered with a 4xx problem that says what was wrong.

use axum::http::{Method, StatusCode};
use brigade_chassis::testing::{assert_openapi_covers, documented_parameters, SqliteApp};
use catalog::{seed, Store};
use serde_json::json;

use crate::support::seeded;

/// The operations the service documents besides its document's own route.
const OPERATIONS: &[&str] = &[
    "GET /v1/categories",
    "GET /v1/products",
    "POST /v1/products/batch",
    "GET /v1/products/{id}",
];

/// The catalog's routes over a fresh SQLite store holding the sample catalog.
async fn new_app() -> SqliteApp<Store> {
    SqliteApp::start(seeded, |store| catalog::router(store.clone())).await
}

#[tokio::test]
async fn listing_pages_filters_searches_and_sorts() {
    let app = new_app().await;
    let first = app.get("/v1/products").await.ok();
    assert_eq!(first["page"], 1);
    assert_eq!(first["page_size"], 20);
    assert_eq!(first["items"].as_array().unwrap().len(), 20);
    let total = first["total"].as_u64().unwrap();
    assert!(total >= 1000);
    let product = &first["items"][0];
    for field in ["id", "sku", "name", "description", "category", "image_url"] {
        assert!(product[field].is_string(), "{field}: {product}");
    }
    assert!(product["price"]["amount_minor"].as_i64().unwrap() > 0);
    assert_eq!(product["price"]["currency"], "EUR");
    assert!(product["tags"].is_array());

    let second = app.get("/v1/products?page=2&page_size=20").await.ok();
    assert_ne!(second["items"][0], first["items"][0]);
    assert_eq!(second["total"], total);

    // The README's example.
    let copper = app
        .get("/v1/products?category=kitchen&q=copper&page=1&page_size=5")
        .await
        .ok();
    let items = copper["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert!(items.iter().all(|p| p["category"] == "kitchen"));
    assert!(items[0]["name"].as_str().unwrap().contains("Copper"));

    let cheapest = app
        .get("/v1/products?sort=price_asc&page_size=100")
        .await
        .ok();
    let prices: Vec<i64> = cheapest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["price"]["amount_minor"].as_i64().unwrap())
        .collect();
    assert!(prices.windows(2).all(|w| w[0] <= w[1]));

    // Empty values mean no filter, as a search form sends them.
    let unfiltered = app.get("/v1/products?category=&q=").await.ok();
    assert_eq!(unfiltered["total"], total);
}

#[tokio::test]
async fn listing_refuses_bad_input_with_a_problem_naming_it() {
    let app = new_app().await;
    let long_q = "a".repeat(201);
    for (uri, code, parameter, detail) in [
        (
            "/v1/products?page_size=1000",
            "invalid-parameter",
            Some("page_size"),
            "page_size must be between 1 and 100, got 1000",
        ),
        (
            "/v1/products?page_size=0",
            "invalid-parameter",
            Some("page_size"),
            "between 1 and 100",
        ),
        (
            "/v1/products?page=0",
            "invalid-parameter",
            Some("page"),
            "page must be 1 or more",
        ),
        ("/v1/products?page=-1", "invalid-query", None, "page"),
        ("/v1/products?page=abc", "invalid-query", None, "page"),
        (
            "/v1/products?foo=1",
            "invalid-query",
            None,
            "unknown field `foo`",
        ),
        (
            "/v1/products?categroy=kitchen",
            "invalid-query",
            None,
            "categroy",
        ),
        (
            "/v1/products?sort=cheapest",
            "invalid-query",
            None,
            "unknown variant `cheapest`",
        ),
        (
            "/v1/products?page=1&page=2",
            "invalid-query",
            None,
            "duplicate field `page`",
        ),
        (
            "/v1/products?category=spaceships",
            "invalid-parameter",
            Some("category"),
            "unknown category `spaceships`",
        ),
        (
            "/v1/products?category=Kitchen",
            "invalid-parameter",
            Some("category"),
            "lowercase",
        ),
        (
            &format!("/v1/products?q={long_q}"),
            "invalid-parameter",
            Some("q"),
            "at most 200 characters",
        ),
    ] {
        let answer = app.get(uri).await;
        answer.problem(StatusCode::BAD_REQUEST, code, detail);
        if let Some(parameter) = parameter {
            assert_eq!(answer.body["parameter"], parameter, "{uri}");
        }
    }
    // An unknown category's problem lists the known ones, in the detail and as data.
    let unknown = app.get("/v1/products?category=spaceships").await;
    assert!(unknown.body["detail"].as_str().unwrap().contains("kitchen"));
    assert!(unknown.body["categories"]
        .as_array()
        .unwrap()
        .contains(&json!("garden")));
}

#[tokio::test]
async fn one_product_by_id() {
    let app = new_app().await;
    let wanted = &seed::sample_catalog().products[42].product;
    let found = app.get(&format!("/v1/products/{}", wanted.id)).await.ok();
    assert_eq!(found, serde_json::to_value(wanted).unwrap());
    // Ids are UUIDs in any of their spellings.
    let upper = app
        .get(&format!(
            "/v1/products/{}",
            wanted.id.to_string().to_uppercase()
        ))
        .await
        .ok();
    assert_eq!(upper["id"], wanted.id.to_string());

    let unknown = uuid::Uuid::new_v4();
    app.get(&format!("/v1/products/{unknown}")).await.problem(
        StatusCode::NOT_FOUND,
        "not-found",
        &unknown.to_string(),
    );
    let bad = app.get("/v1/products/not-a-uuid").await;
    bad.invalid("id", "`not-a-uuid` is not a product id");
    // A huge id is not echoed in full.
    let huge = app.get(&format!("/v1/products/{}", "x".repeat(5000))).await;
    huge.problem(
        StatusCode::BAD_REQUEST,
        "invalid-parameter",
        "is not a product id",
    );
    assert!(huge.body["detail"].as_str().unwrap().len() < 300);
}

#[tokio::test]
async fn products_by_ids_in_the_order_asked() {
    let app = new_app().await;
    let generated = seed::sample_catalog();
    let (a, b) = (
        &generated.products[5].product,
        &generated.products[500].product,
    );
    let missing = uuid::Uuid::new_v4();
    let batch = app
        .raw(
            Method::POST,
            "/v1/products/batch",
            "application/json",
            json!({ "ids": [b.id, missing, a.id] }).to_string(),
        )
        .await
        .ok();
    assert_eq!(batch["items"], json!([b, a]));
    assert_eq!(batch["missing"], json!([missing]));

    let empty = app
        .raw(
            Method::POST,
            "/v1/products/batch",
            "application/json",
            r#"{"ids":[]}"#,
        )
        .await
        .ok();
    assert_eq!(empty, json!({ "items": [], "missing": [] }));
}

#[tokio::test]
async fn products_by_ids_refuses_bad_input_with_a_problem() {
    let app = new_app().await;
    let ids = |n: usize| {
        json!({ "ids": (0..n).map(|_| uuid::Uuid::new_v4()).collect::<Vec<_>>() }).to_string()
    };
    let too_many = app
        .raw(
            Method::POST,
            "/v1/products/batch",
            "application/json",
            ids(101),
        )
        .await;
    too_many.invalid("ids", "at most 100 ids");

    let json = "application/json";
    for (body, status, code, detail) in [
        (
            r#"{"ids": ["#.to_owned(),
            StatusCode::BAD_REQUEST,
            "bad-request",
            "not valid JSON",
        ),
        (
            r#"{"ids": ["nope"]}"#.to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "UUID",
        ),
        (
            r#"{"ids": [], "extra": 1}"#.to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "unknown field `extra`",
        ),
        (
            r#"{}"#.to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "missing field `ids`",
        ),
        // Well over what 100 ids take: refused before it is read.
        (
            format!(r#"{{"ids": [], "pad": "{}"}}"#, " ".repeat(20_000)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "larger",
        ),
    ] {
        app.raw(Method::POST, "/v1/products/batch", json, body)
            .await
            .problem(status, code, detail);
    }
    app.raw(Method::POST, "/v1/products/batch", "text/plain", ids(1))
        .await
        .problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "application/json",
        );
    app.get("/v1/products/batch").await.problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "GET",
    );
}

#[tokio::test]
async fn categories_with_their_product_counts() {
    let app = new_app().await;
    let categories = app.get("/v1/categories").await.ok();
    let items = categories["items"].as_array().unwrap();
    assert!(items.len() >= 10);
    assert_eq!(items[0]["slug"], "kitchen");
    let counted: u64 = items
        .iter()
        .map(|c| c["product_count"].as_u64().unwrap())
        .sum();
    let total = app.get("/v1/products").await.ok()["total"]
        .as_u64()
        .unwrap();
    assert_eq!(counted, total);
    for category in items {
        assert!(category["name"].as_str().is_some_and(|n| !n.is_empty()));
        assert!(category["description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()));
    }
    // The listing takes no parameters: one sent anyway is a mistake worth saying so.
    app.get("/v1/categories?page=2").await.problem(
        StatusCode::BAD_REQUEST,
        "invalid-query",
        "page",
    );
}

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes_served() {
    let app = new_app().await;
    let document = assert_openapi_covers(app.router(), OPERATIONS).await;
    // Every documented operation is served (an unserved one would be a 404 or 405 problem).
    let id = seed::sample_catalog().products[0].product.id;
    assert_eq!(app.get("/v1/categories").await.status, StatusCode::OK);
    assert_eq!(
        app.get(&format!("/v1/products/{id}")).await.status,
        StatusCode::OK
    );
    let batch = app
        .raw(
            Method::POST,
            "/v1/products/batch",
            "application/json",
            r#"{"ids":[]}"#,
        )
        .await;
    assert_eq!(batch.status, StatusCode::OK);
    // The query parameters documented are the ones the route accepts.
    assert_eq!(
        documented_parameters(&document, "get", "/v1/products"),
        ["category", "q", "page", "page_size", "sort"]
    );
    let every = "/v1/products?category=kitchen&q=pan&page=1&page_size=5&sort=name";
    assert_eq!(app.get(every).await.status, StatusCode::OK);
    let sorts = document["paths"]["/v1/products"]["get"]["parameters"][4]["schema"]["enum"].clone();
    assert_eq!(sorts, json!(catalog_api::Sort::ALL.map(|s| s.as_str())));
}
