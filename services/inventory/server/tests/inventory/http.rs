//! Every route in process, through the same middleware as a running instance: the happy paths,
//! and bad input on every route answered with a 4xx problem that says what was wrong.

use axum::http::{Method, StatusCode};
use brigade_chassis::db::Db;
use brigade_chassis::testing::{assert_openapi_covers, JsonAnswer, SqliteApp};
use inventory::Store;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{assert_audit_clean, migrated, stock};

/// The operations the service documents besides its document's own route.
const OPERATIONS: &[&str] = &[
    "GET /v1/audit",
    "GET /v1/reservations/{order_id}",
    "GET /v1/stock",
    "GET /v1/stock/{sku}",
    "POST /v1/reservations/{order_id}/commit",
    "POST /v1/reservations/{order_id}/release",
    "PUT /v1/reservations/{order_id}",
    "PUT /v1/stock/{sku}",
];

/// An inventory app over a fresh SQLite store with a few SKUs; its state is the store.
type App = SqliteApp<Store>;

async fn new_app() -> App {
    SqliteApp::start(stocked, |store| inventory::router(store.clone())).await
}

/// `db` migrated, with a few SKUs in stock.
async fn stocked(db: Db) -> Store {
    let store = migrated(db).await;
    stock(&store, &[("KIT-0001", 5), ("KIT-0002", 1), ("BAG-0001", 3)]).await;
    store
}

/// POSTs to `uri` without a body: how a reservation is committed or released.
async fn post_empty(app: &App, uri: &str) -> JsonAnswer {
    app.call(Method::POST, uri).send().await
}

fn reservation_uri(order: Uuid) -> String {
    format!("/v1/reservations/{order}")
}

#[tokio::test]
async fn stock_levels_are_read_and_set() {
    let app = new_app().await;
    let levels = app
        .get("/v1/stock?skus=BAG-0001,NOPE-1,KIT-0001,BAG-0001")
        .await
        .ok();
    assert_eq!(
        levels,
        json!({
            "items": [
                {"sku": "BAG-0001", "stock": 3, "held": 0, "committed": 0, "available": 3},
                {"sku": "KIT-0001", "stock": 5, "held": 0, "committed": 0, "available": 5},
            ],
            "missing": ["NOPE-1"],
        })
    );
    let one = app.get("/v1/stock/KIT-0002").await.ok();
    assert_eq!(one["available"], 1);

    let created = app
        .put("/v1/stock/NEW-0001", json!({"stock": 7}))
        .await
        .with_status(StatusCode::CREATED);
    assert_eq!(created["available"], 7);
    let updated = app
        .put("/v1/stock/NEW-0001", json!({"stock": 9}))
        .await
        .ok();
    assert_eq!(
        updated,
        json!({"sku": "NEW-0001", "stock": 9, "held": 0, "committed": 0, "available": 9})
    );
    assert_eq!(app.get("/v1/audit").await.ok(), json!({"violations": []}));
}

#[tokio::test]
async fn a_reservation_lives_through_reserve_commit_and_release() {
    let app = new_app().await;
    let order = Uuid::new_v4();
    let body = json!({"lines": [{"sku": "KIT-0001", "quantity": 2}, {"sku": "BAG-0001", "quantity": 1}], "ttl_ms": 60000});
    let created = app
        .put(&reservation_uri(order), body.clone())
        .await
        .with_status(StatusCode::CREATED);
    assert_eq!(created["order_id"], order.to_string());
    assert_eq!(created["status"], "held");
    assert_eq!(created["lines"], body["lines"]);
    assert_eq!(
        created["expires_at_ms"].as_u64().unwrap() - created["created_at_ms"].as_u64().unwrap(),
        60000
    );
    // Repeated: 200 with the same reservation.
    assert_eq!(app.put(&reservation_uri(order), body).await.ok(), created);
    assert_eq!(app.get(&reservation_uri(order)).await.ok(), created);
    assert_eq!(app.get("/v1/stock/KIT-0001").await.ok()["held"], 2);

    let committed = post_empty(&app, &format!("{}/commit", reservation_uri(order)))
        .await
        .ok();
    assert_eq!(committed["status"], "committed");
    let again = post_empty(&app, &format!("{}/commit", reservation_uri(order)))
        .await
        .ok();
    assert_eq!(again, committed);
    post_empty(&app, &format!("{}/release", reservation_uri(order)))
        .await
        .problem(StatusCode::CONFLICT, "already-committed", "committed");
    let level = app.get("/v1/stock/KIT-0001").await.ok();
    assert_eq!(
        (level["held"].clone(), level["committed"].clone()),
        (json!(0), json!(2))
    );

    let returned = Uuid::new_v4();
    app.put(
        &reservation_uri(returned),
        json!({"lines": [{"sku": "KIT-0002", "quantity": 1}]}),
    )
    .await
    .with_status(StatusCode::CREATED);
    let released = post_empty(&app, &format!("{}/release", reservation_uri(returned)))
        .await
        .ok();
    assert_eq!(released["status"], "released");
    assert_eq!(
        post_empty(&app, &format!("{}/release", reservation_uri(returned)))
            .await
            .ok(),
        released
    );
    assert_eq!(app.get("/v1/stock/KIT-0002").await.ok()["available"], 1);
    assert_eq!(app.get("/v1/audit").await.ok(), json!({"violations": []}));
}

#[tokio::test]
async fn refusals_are_conflicts_that_say_why() {
    let app = new_app().await;
    let order = Uuid::new_v4();
    // Out of stock: nothing reserved, and the short lines listed.
    let answer = app
        .put(
            &reservation_uri(order),
            json!({"lines": [{"sku": "KIT-0001", "quantity": 1}, {"sku": "KIT-0002", "quantity": 2}]}),
        )
        .await;
    let body = answer.problem(
        StatusCode::CONFLICT,
        "out-of-stock",
        "KIT-0002 (2 asked, 1 available)",
    );
    assert_eq!(
        body["short"],
        json!([{"sku": "KIT-0002", "requested": 2, "available": 1}])
    );
    app.get(&reservation_uri(order)).await.problem(
        StatusCode::NOT_FOUND,
        "not-found",
        "no reservation",
    );
    assert_eq!(app.get("/v1/stock/KIT-0001").await.ok()["held"], 0);

    // Unknown SKUs: 422 naming them.
    let answer = app
        .put(
            &reservation_uri(order),
            json!({"lines": [{"sku": "NOPE-1", "quantity": 1}, {"sku": "KIT-0001", "quantity": 1}]}),
        )
        .await;
    let body = answer.problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown-sku", "NOPE-1");
    assert_eq!(body["skus"], json!(["NOPE-1"]));

    // Mismatch.
    app.put(
        &reservation_uri(order),
        json!({"lines": [{"sku": "KIT-0001", "quantity": 1}]}),
    )
    .await
    .with_status(StatusCode::CREATED);
    app.put(
        &reservation_uri(order),
        json!({"lines": [{"sku": "KIT-0001", "quantity": 2}]}),
    )
    .await
    .problem(StatusCode::CONFLICT, "reservation-mismatch", "1 × KIT-0001");

    // Expired, and its units gone: commit is refused.
    let late = Uuid::new_v4();
    app.put(
        &reservation_uri(late),
        json!({"lines": [{"sku": "BAG-0001", "quantity": 3}], "ttl_ms": 1000}),
    )
    .await
    .with_status(StatusCode::CREATED);
    let far_future = brigade_chassis::time::unix_ms() + 2000;
    assert_eq!(app.state.expire_due(far_future).await.unwrap(), 1);
    assert_eq!(
        app.get(&reservation_uri(late)).await.ok()["status"],
        "expired"
    );
    app.put(
        &reservation_uri(Uuid::new_v4()),
        json!({"lines": [{"sku": "BAG-0001", "quantity": 1}]}),
    )
    .await
    .with_status(StatusCode::CREATED);
    let answer = post_empty(&app, &format!("{}/commit", reservation_uri(late))).await;
    let body = answer.problem(StatusCode::CONFLICT, "reservation-expired", "expired");
    assert_eq!(body["reservation_status"], "expired");
    assert_eq!(
        body["short"],
        json!([{"sku": "BAG-0001", "requested": 3, "available": 2}])
    );

    // Stock below what is promised.
    let answer = app.put("/v1/stock/BAG-0001", json!({"stock": 0})).await;
    let body = answer.problem(StatusCode::CONFLICT, "stock-below-reserved", "at least 1");
    assert_eq!(
        (body["held"].clone(), body["committed"].clone()),
        (json!(1), json!(0))
    );
    assert_audit_clean(&app.state).await;
}

#[tokio::test]
async fn bad_input_on_every_route_is_a_problem_naming_it() {
    let app = new_app().await;
    let kit = "/v1/stock/KIT-0001";
    let order = Uuid::new_v4();
    let reservation = reservation_uri(order);

    // GET /v1/stock
    app.get("/v1/stock").await.invalid("skus", "name the SKUs");
    app.get("/v1/stock?skus=")
        .await
        .invalid("skus", "is not a SKU");
    app.get("/v1/stock?skus=A,,B")
        .await
        .invalid("skus", "is not a SKU");
    app.get("/v1/stock?skus=a%20b")
        .await
        .invalid("skus", "`a b` is not a SKU");
    let many: Vec<String> = (0..101).map(|n| format!("S{n}")).collect();
    app.get(&format!("/v1/stock?skus={}", many.join(",")))
        .await
        .invalid("skus", "at most 100");
    app.get("/v1/stock?skus=A&sku=B").await.problem(
        StatusCode::BAD_REQUEST,
        "invalid-query",
        "sku",
    );

    // GET and PUT /v1/stock/{sku}
    app.get("/v1/stock/a%20b")
        .await
        .invalid("sku", "is not a SKU");
    let long = "X".repeat(65);
    app.get(&format!("/v1/stock/{long}"))
        .await
        .invalid("sku", "is not a SKU");
    app.get("/v1/stock/NOPE-1")
        .await
        .problem(StatusCode::NOT_FOUND, "not-found", "NOPE-1");
    app.get("/v1/stock/KIT-0001?x=1")
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid-query", "x");
    app.put("/v1/stock/a%20b", json!({"stock": 1}))
        .await
        .invalid("sku", "is not a SKU");
    app.put("/v1/stock/KIT-0001", json!({"stock": 1_000_000_001u64}))
        .await
        .invalid("stock", "between 0 and 1000000000");
    app.put("/v1/stock/KIT-0001", json!({"stock": -1}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body", "stock");
    app.put("/v1/stock/KIT-0001", json!({"stock": 1, "held": 0}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body", "held");
    app.put("/v1/stock/KIT-0001", json!({})).await.problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-body",
        "stock",
    );
    app.raw(Method::PUT, kit, "application/json", "{\"stock\":")
        .await
        .problem(StatusCode::BAD_REQUEST, "bad-request", "not valid JSON");
    app.raw(Method::PUT, kit, "text/plain", "{\"stock\":1}")
        .await
        .problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "JSON",
        );
    app.raw(Method::PUT, kit, "application/json", " ".repeat(2000))
        .await
        .problem(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "larger");

    // PUT /v1/reservations/{order_id}
    let line = |sku: &str, quantity: i64| json!({"sku": sku, "quantity": quantity});
    app.put(
        "/v1/reservations/not-a-uuid",
        json!({"lines": [line("KIT-0001", 1)]}),
    )
    .await
    .invalid("order_id", "`not-a-uuid` is not an order id");
    app.put(&reservation, json!({"lines": []}))
        .await
        .invalid("lines", "1 to 100 lines, got 0");
    let too_many: Vec<Value> = (0..101).map(|n| line(&format!("S{n}"), 1)).collect();
    app.put(&reservation, json!({"lines": too_many}))
        .await
        .invalid("lines", "got 101");
    app.put(
        &reservation,
        json!({"lines": [line("KIT-0001", 1), line("KIT-0002", 0)]}),
    )
    .await
    .invalid("lines[1].quantity", "between 1 and 1000, got 0");
    app.put(&reservation, json!({"lines": [line("KIT-0001", 1001)]}))
        .await
        .invalid("lines[0].quantity", "got 1001");
    app.put(
        &reservation,
        json!({"lines": [line("KIT-0001", 1), line("KIT-0001", 1)]}),
    )
    .await
    .invalid("lines[1].sku", "more than one line");
    app.put(&reservation, json!({"lines": [line("", 1)]}))
        .await
        .invalid("lines[0].sku", "is not a SKU");
    for ttl in [0, 999, 86_400_001] {
        app.put(
            &reservation,
            json!({"lines": [line("KIT-0001", 1)], "ttl_ms": ttl}),
        )
        .await
        .invalid("ttl_ms", "between 1000");
    }
    app.put(&reservation, json!({"lines": [line("KIT-0001", -1)]}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body", "quantity");
    app.put(&reservation, json!({"lines": [{"sku": "KIT-0001"}]}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body", "quantity");
    app.put(
        &reservation,
        json!({"lines": [line("KIT-0001", 1)], "ttl": 5}),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body", "ttl");
    app.put(&reservation, json!({"items": []})).await.problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-body",
        "items",
    );
    app.raw(Method::PUT, &reservation, "application/json", "not json")
        .await
        .problem(StatusCode::BAD_REQUEST, "bad-request", "not valid JSON");
    app.raw(
        Method::PUT,
        &reservation,
        "application/json",
        " ".repeat(40 * 1024),
    )
    .await
    .problem(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "larger");
    app.put(
        &format!("{reservation}?ttl_ms=5"),
        json!({"lines": [line("KIT-0001", 1)]}),
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "invalid-query", "ttl_ms");
    // None of that reserved anything.
    app.get(&reservation)
        .await
        .problem(StatusCode::NOT_FOUND, "not-found", &order.to_string());

    // GET, commit and release of a reservation
    for uri in [
        "/v1/reservations/123".to_owned(),
        "/v1/reservations/123/commit".to_owned(),
        "/v1/reservations/123/release".to_owned(),
    ] {
        let answer = if uri.ends_with("123") {
            app.get(&uri).await
        } else {
            post_empty(&app, &uri).await
        };
        answer.invalid("order_id", "`123` is not an order id");
    }
    post_empty(&app, &format!("{reservation}/commit"))
        .await
        .problem(StatusCode::NOT_FOUND, "not-found", "no reservation");
    post_empty(&app, &format!("{reservation}/release"))
        .await
        .problem(StatusCode::NOT_FOUND, "not-found", "no reservation");
    post_empty(&app, &format!("{reservation}/commit?force=1"))
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid-query", "force");
    app.get(&format!("{reservation}?x=1")).await.problem(
        StatusCode::BAD_REQUEST,
        "invalid-query",
        "x",
    );

    // GET /v1/audit
    app.get("/v1/audit?verbose=1").await.problem(
        StatusCode::BAD_REQUEST,
        "invalid-query",
        "verbose",
    );

    // Methods a route does not have.
    app.call(Method::DELETE, "/v1/stock/KIT-0001")
        .send()
        .await
        .problem(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "");
    app.get(&format!("{reservation}/commit")).await.problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "",
    );
    assert_audit_clean(&app.state).await;
}

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes_served() {
    let app = new_app().await;
    let document = assert_openapi_covers(app.router(), OPERATIONS).await;
    // Every documented operation is served: an unserved one would be a 404 or 405 problem.
    let order = Uuid::new_v4();
    let served = [
        app.get("/v1/audit").await.status,
        app.get("/v1/stock?skus=KIT-0001").await.status,
        app.get("/v1/stock/KIT-0001").await.status,
        app.put("/v1/stock/KIT-0001", json!({"stock": 5}))
            .await
            .status,
        app.put(
            &reservation_uri(order),
            json!({"lines": [{"sku": "KIT-0001", "quantity": 1}]}),
        )
        .await
        .status,
        app.get(&reservation_uri(order)).await.status,
        post_empty(&app, &format!("{}/commit", reservation_uri(order)))
            .await
            .status,
    ];
    assert!(served.iter().all(StatusCode::is_success), "{served:?}");
    let release = post_empty(&app, &format!("{}/release", reservation_uri(order))).await;
    release.problem(StatusCode::CONFLICT, "already-committed", "committed");
    // The problem types the document names are the API crate's.
    let description = document["info"]["description"].as_str().unwrap();
    for code in [
        inventory_api::problems::OUT_OF_STOCK,
        inventory_api::problems::RESERVATION_MISMATCH,
        inventory_api::problems::RESERVATION_EXPIRED,
        inventory_api::problems::ALREADY_COMMITTED,
        inventory_api::problems::STOCK_BELOW_RESERVED,
        inventory_api::problems::UNKNOWN_SKU,
    ] {
        assert!(description.contains(code), "{code}");
    }
}
