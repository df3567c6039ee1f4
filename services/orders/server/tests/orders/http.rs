//! Every route in process, through the same middleware as a running instance: idempotency,
//! ownership, authentication, and bad input on every route answered with a 4xx problem.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, Method, StatusCode};
use brigade_chassis::context::DEADLINE_HEADER;
use brigade_chassis::events::stored_events;
use brigade_chassis::testing::{
    self, assert_openapi_covers, documented_parameters, JsonAnswer, TestApp, TestKeys,
};
use orders::{AppState, Saga, Store};
use orders_api::events::OrderConfirmed;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{config, events_of, migrated, types, ChargeScript, Fake};

/// The operations the service documents besides its document's own route.
const OPERATIONS: &[&str] = &[
    "GET /v1/audit",
    "GET /v1/audit/orders",
    "POST /v1/checkout",
    "GET /v1/orders",
    "GET /v1/orders/{id}",
];

/// An orders app over a fresh SQLite store and a fake port (shared with the shipping tests).
pub(crate) struct App {
    pub app: TestApp,
    pub keys: TestKeys,
    pub fake: Fake,
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
}

impl App {
    pub async fn new(fake: Fake) -> App {
        let (db, dir) = testing::sqlite_db().await;
        let mut app = App::on(db, fake).await;
        app._dir = Some(dir);
        app
    }

    /// An orders app over `db` (either engine) and a fake port.
    pub async fn on(db: brigade_chassis::db::Db, fake: Fake) -> App {
        let store = migrated(db).await;
        let keys = TestKeys::new();
        let saga = Saga::new(
            store.clone(),
            Arc::new(fake.clone()),
            "instance-a",
            config(),
        );
        let app = TestApp::new(orders::router(AppState {
            saga,
            verifier: keys.verifier(),
            answer_margin: Duration::from_millis(200),
        }));
        App {
            app,
            keys,
            fake,
            store,
            _dir: None,
        }
    }

    /// A signed-in user with product 1 (×2) in their cart.
    pub fn shopper(&self) -> String {
        let token = self.keys.token(Uuid::new_v4(), "shopper@example.com");
        self.fake.fill_cart(&token, self.fake.products[0].id, 2);
        token
    }

    pub async fn checkout(&self, token: Option<&str>, key: Option<&str>, body: &str) -> JsonAnswer {
        self.app
            .call(Method::POST, "/v1/checkout")
            .token(token)
            .idempotency_key(key)
            .body("application/json", body.to_owned())
            .send()
            .await
    }

    pub async fn get(&self, uri: &str, token: Option<&str>) -> JsonAnswer {
        self.app.call(Method::GET, uri).token(token).send().await
    }
}

const CARD: &str = r#"{"card_number":"4242424242424242"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_confirms_and_a_repeat_answers_the_same_order() {
    let app = App::new(Fake::new(10)).await;
    let token = app.shopper();
    let first = app.checkout(Some(&token), Some("key-1"), CARD).await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    assert_eq!(first.body["status"], "CONFIRMED");
    assert_eq!(
        first.body["total"],
        json!({"amount_minor": 2000, "currency": "EUR"})
    );
    assert_eq!(first.body["lines"][0]["sku"], "SKU-0001");
    // Without an address, nothing ships and nothing is added to the lines.
    assert_eq!(first.body["shipping"], Value::Null);
    let id = first.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        first.header(header::LOCATION),
        Some(format!("/v1/orders/{id}").as_str())
    );
    // Placed, then confirmed with its lines and total, in the outbox: the cart empties itself
    // from that event.
    let order_id: Uuid = id.parse().unwrap();
    let events = events_of(&app.store, order_id).await;
    assert_eq!(types(&events), ["OrderPlaced", "OrderConfirmed"]);
    let confirmed: OrderConfirmed = events[1].decode().unwrap();
    assert_eq!(confirmed.lines.len(), 1);
    assert_eq!(confirmed.lines[0].product_id, app.fake.products[0].id);
    assert_eq!(confirmed.lines[0].quantity, 2);
    assert_eq!(confirmed.total.amount_minor, 2000);
    let written = stored_events(app.store.db()).await.unwrap().len();

    // The same shopper and key again, with `body`.
    let repeat = |body| app.checkout(Some(&token), Some("key-1"), body);
    // Same key, same body (in other whitespace): the same order, no second effect.
    let again = repeat(r#"{ "card_number" : "4242424242424242" }"#).await;
    assert_eq!(again.status, StatusCode::OK, "{again:?}");
    assert_eq!(again.body["id"], id.as_str());
    assert_eq!(app.fake.world().captures, 1);
    assert_eq!(
        stored_events(app.store.db()).await.unwrap().len(),
        written,
        "a repeat announced something"
    );

    // Same key, another body: refused, naming the order.
    let reused = repeat(r#"{"card_number":"4000000000000002"}"#).await;
    reused.problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
        "",
    );
    assert_eq!(reused.body["order_id"], id.as_str());

    // Keys are per user: another user's same key is another checkout.
    let other = app.shopper();
    let theirs = app.checkout(Some(&other), Some("key-1"), CARD).await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{theirs:?}");
    assert_ne!(theirs.body["id"], id.as_str());

    let order = app.get(&format!("/v1/orders/{id}"), Some(&token)).await;
    assert_eq!(order.status, StatusCode::OK);
    assert_eq!(order.body["history"][0]["step"], "created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_requests_with_one_key_at_once_make_one_order() {
    let app = App::new(Fake::new(10).with_delay(Duration::from_millis(300))).await;
    let token = app.shopper();
    let (a, b) = tokio::join!(
        app.checkout(Some(&token), Some("same"), CARD),
        app.checkout(Some(&token), Some("same"), CARD)
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert!(
        statuses == [201, 409] || statuses == [202, 409],
        "{a:?}\n{b:?}"
    );
    let conflict = if a.status == StatusCode::CONFLICT {
        &a
    } else {
        &b
    };
    conflict.problem(StatusCode::CONFLICT, "request-in-progress", "");
    let page = app.get("/v1/orders", Some(&token)).await;
    assert_eq!(page.body["total"], 1);
    // Once the order is final, repeats get it with 200.
    let repeat = app.checkout(Some(&token), Some("same"), CARD).await;
    assert_eq!(repeat.status, StatusCode::OK, "{repeat:?}");
    assert_eq!(app.fake.world().captures, 1);
    // One order placed and confirmed: two events, whatever the number of requests.
    let events = stored_events(app.store.db()).await.unwrap();
    assert_eq!(types(&events), ["OrderPlaced", "OrderConfirmed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_known_down_refuses_the_checkout_at_once_and_records_nothing() {
    let app = App::new(Fake::new(10)).await;
    let token = app.shopper();
    app.fake.world().payments_down =
        Some("payments is unavailable: its circuit breaker is open".into());
    let answer = app.checkout(Some(&token), Some("k"), CARD).await;
    answer.problem(StatusCode::SERVICE_UNAVAILABLE, "payments-unavailable", "");
    assert!(answer.body["order_id"].is_null(), "{answer:?}");
    assert!(
        answer.body["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was ordered or charged and your cart is as it was"),
        "{answer:?}"
    );
    // Nothing reserved, nothing recorded: the same key works once payments is back.
    assert!(app.fake.world().reservations.is_empty());
    let listed = app.get("/v1/orders", Some(&token)).await;
    assert_eq!(listed.body["total"], 0, "{listed:?}");
    app.fake.world().payments_down = None;
    let answer = app.checkout(Some(&token), Some("k"), CARD).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    assert_eq!(answer.body["status"], "CONFIRMED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_unreachable_mid_checkout_is_a_503_with_the_order_cancelled_and_released() {
    let app = App::new(Fake::new(10)).await;
    let token = app.shopper();
    app.fake.script(&[ChargeScript::Unreachable]);
    let answer = app.checkout(Some(&token), Some("k"), CARD).await;
    answer.problem(StatusCode::SERVICE_UNAVAILABLE, "payments-unavailable", "");
    let id: Uuid = answer.body["order_id"].as_str().unwrap().parse().unwrap();
    assert!(
        answer.body["detail"].as_str().unwrap().contains(&format!(
            "order {id} was cancelled without charging you and its stock"
        )),
        "{answer:?}"
    );
    // Not half done: cancelled, its stock back, nothing charged; the repeat answers the same.
    let order = app.get(&format!("/v1/orders/{id}"), Some(&token)).await;
    assert_eq!(order.body["status"], "CANCELLED", "{order:?}");
    assert_eq!(order.body["cancel_reason"], "payment_unavailable");
    {
        let w = app.fake.world();
        assert_eq!(w.stock["SKU-0001"], 10);
        assert_eq!(w.captures, 0);
    }
    app.checkout(Some(&token), Some("k"), CARD).await.problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "payments-unavailable",
        "",
    );
    // A new key, payments back: the cart was kept, so the checkout confirms.
    let answer = app.checkout(Some(&token), Some("k2"), CARD).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    assert_eq!(answer.body["status"], "CONFIRMED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_confirms_when_the_cart_is_down_after_it_was_read() {
    let app = App::new(Fake::new(10).with_delay(Duration::from_millis(20))).await;
    let token = app.shopper();
    // The cart answers the checkout's read, then goes down for the rest of the saga.
    app.fake.world().cart_reads_left = Some(1);
    let answer = app.checkout(Some(&token), Some("k"), CARD).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    assert_eq!(answer.body["status"], "CONFIRMED");
    let id: Uuid = answer.body["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        types(&events_of(&app.store, id).await),
        ["OrderPlaced", "OrderConfirmed"]
    );
    // The cart is down indeed: a new checkout cannot read it, and says so.
    app.checkout(Some(&token), Some("k2"), CARD).await.problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "service-unavailable",
        "",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saga_outliving_the_deadline_answers_202_with_a_location() {
    let app = App::new(Fake::new(10).with_delay(Duration::from_millis(500))).await;
    let token = app.shopper();
    let answer = app
        .app
        .call(Method::POST, "/v1/checkout")
        .token(Some(&token))
        .idempotency_key(Some("slow"))
        .header(DEADLINE_HEADER, "400")
        .body("application/json", CARD)
        .send()
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    assert_eq!(answer.body["status"], "PENDING");
    let location = answer.header(header::LOCATION).unwrap().to_owned();
    // The saga goes on without the request.
    let mut status = Value::Null;
    for _ in 0..100 {
        status = app.get(&location, Some(&token)).await.body["status"].clone();
        if status != "PENDING" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "CONFIRMED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_never_sees_another_users_orders() {
    let app = App::new(Fake::new(10)).await;
    let alice = app.shopper();
    let bob = app.shopper();
    let order = app.checkout(Some(&alice), Some("k"), CARD).await;
    let id = order.body["id"].as_str().unwrap().to_owned();
    app.get(&format!("/v1/orders/{id}"), Some(&bob))
        .await
        .problem(StatusCode::NOT_FOUND, "not-found", "");
    app.get(&format!("/v1/orders/{}", Uuid::new_v4()), Some(&bob))
        .await
        .problem(StatusCode::NOT_FOUND, "not-found", "");
    assert_eq!(app.get("/v1/orders", Some(&bob)).await.body["total"], 0);
    let mine = app.get("/v1/orders", Some(&alice)).await;
    assert_eq!(mine.body["total"], 1);
    assert_eq!(mine.body["items"][0]["id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_are_listed_newest_first_in_pages() {
    let app = App::new(Fake::new(100)).await;
    let token = app.shopper();
    let mut ids = Vec::new();
    for n in 0..3 {
        app.fake.fill_cart(&token, app.fake.products[0].id, 1);
        let order = app
            .checkout(Some(&token), Some(&format!("k{n}")), CARD)
            .await;
        ids.push(order.body["id"].as_str().unwrap().to_owned());
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let page = app.get("/v1/orders?page=1&page_size=2", Some(&token)).await;
    assert_eq!(page.body["total"], 3);
    assert_eq!(page.body["items"][0]["id"], ids[2].as_str());
    assert_eq!(page.body["items"][1]["id"], ids[1].as_str());
    let last = app.get("/v1/orders?page=2&page_size=2", Some(&token)).await;
    assert_eq!(last.body["items"][0]["id"], ids[0].as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_user_route_needs_a_valid_token() {
    let app = App::new(Fake::new(10)).await;
    let id = Uuid::new_v4();
    for token in [None, Some("not-a-token")] {
        app.checkout(token, Some("k"), CARD).await.problem(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "",
        );
        app.get("/v1/orders", token)
            .await
            .problem(StatusCode::UNAUTHORIZED, "unauthorized", "");
        app.get(&format!("/v1/orders/{id}"), token).await.problem(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_on_every_route_is_a_4xx_problem_and_records_nothing() {
    let app = App::new(Fake::new(10)).await;
    let token = app.shopper();
    let bad_request = StatusCode::BAD_REQUEST;
    app.checkout(Some(&token), None, CARD)
        .await
        .problem(bad_request, "invalid-parameter", "");
    app.checkout(Some(&token), Some("has space"), CARD)
        .await
        .problem(bad_request, "invalid-parameter", "");
    let long = "k".repeat(129);
    app.checkout(Some(&token), Some(&long), CARD).await.problem(
        bad_request,
        "invalid-parameter",
        "",
    );
    let card = app
        .checkout(Some(&token), Some("k"), r#"{"card_number":"4242-4242"}"#)
        .await;
    card.invalid("card_number", "");
    for body in [
        "",
        "{",
        r#"{"card":"4242424242424242"}"#,
        r#"{"card_number":4242}"#,
    ] {
        let answer = app.checkout(Some(&token), Some("k"), body).await;
        assert!(answer.status.is_client_error(), "{body}: {answer:?}");
        assert_eq!(answer.content_type, "application/problem+json");
    }
    // An empty cart, and a cart naming a product the catalog no longer has.
    let empty = app.keys.token(Uuid::new_v4(), "empty@example.com");
    app.checkout(Some(&empty), Some("k"), CARD).await.problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "empty-cart",
        "",
    );
    let gone = Uuid::new_v4();
    app.fake.fill_cart(&empty, gone, 1);
    let unavailable = app.checkout(Some(&empty), Some("k"), CARD).await;
    unavailable.problem(StatusCode::UNPROCESSABLE_ENTITY, "product-unavailable", "");
    assert_eq!(unavailable.body["product_ids"], json!([gone.to_string()]));

    for uri in [
        "/v1/orders?page=0",
        "/v1/orders?page_size=101",
        "/v1/orders?size=1",
        "/v1/orders?page=x",
    ] {
        let answer = app.get(uri, Some(&token)).await;
        assert_eq!(answer.status, bad_request, "{uri}: {answer:?}");
        assert_eq!(answer.content_type, "application/problem+json");
    }
    app.get("/v1/orders/not-a-uuid", Some(&token))
        .await
        .problem(bad_request, "invalid-parameter", "");
    for uri in [
        "/v1/audit?older_than_s=99999999",
        "/v1/audit?older_than_s=-1",
        "/v1/audit?x=1",
    ] {
        let answer = app.get(uri, None).await;
        assert_eq!(answer.status, bad_request, "{uri}: {answer:?}");
    }
    // Nothing was recorded by any of it, nor announced.
    let audit = app.get("/v1/audit?older_than_s=0", None).await;
    assert_eq!(
        audit.body["orders"],
        json!({"PENDING": 0, "CONFIRMED": 0, "CANCELLED": 0})
    );
    assert!(stored_events(app.store.db()).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_counts_orders_by_status_and_lists_unfinished_ones() {
    let app = App::new(Fake::new(1)).await;
    let token = app.shopper();
    // Two units wanted, one in stock: cancelled.
    let order = app.checkout(Some(&token), Some("k"), CARD).await;
    assert_eq!(order.body["status"], "CANCELLED");
    assert_eq!(order.body["cancel_reason"], "out_of_stock");
    let audit = app.get("/v1/audit", None).await;
    assert_eq!(audit.status, StatusCode::OK);
    assert_eq!(audit.body["unfinished"], json!([]));
    assert_eq!(audit.body["orders"]["CANCELLED"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_exactly_the_routes_served() {
    let app = App::new(Fake::new(10)).await;
    let document = assert_openapi_covers(app.app.router(), OPERATIONS).await;
    let token = app.shopper();
    assert_eq!(app.get("/v1/audit", None).await.status, StatusCode::OK);
    assert_eq!(
        app.get("/v1/audit/orders", None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/v1/orders", Some(&token)).await.status,
        StatusCode::OK
    );
    let order = app.checkout(Some(&token), Some("k"), CARD).await;
    assert_eq!(order.status, StatusCode::CREATED);
    let id = order.body["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/orders/{id}"), Some(&token))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        documented_parameters(&document, "get", "/v1/orders"),
        ["page", "page_size"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_is_listed_for_the_promise_checker_page_by_page() {
    let app = App::new(Fake::new(100)).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let token = app.shopper();
        let order = app.checkout(Some(&token), Some("k"), CARD).await;
        ids.push(order.body["id"].as_str().unwrap().to_owned());
    }
    ids.sort();
    let first = app.get("/v1/audit/orders?limit=2", None).await;
    assert_eq!(first.status, StatusCode::OK);
    let next = first.body["next"].as_str().unwrap().to_owned();
    let second = app
        .get(&format!("/v1/audit/orders?limit=2&after={next}"), None)
        .await;
    assert_eq!(second.body["next"], json!(null));
    let listed: Vec<String> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second.body["items"].as_array().unwrap())
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, ids);
    for bad in ["limit=0", "limit=5000", "after=nope", "colour=red"] {
        let answer = app.get(&format!("/v1/audit/orders?{bad}"), None).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}
