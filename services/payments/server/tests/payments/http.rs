//! Every route in process, through the same middleware as a running instance: the happy paths,
//! and bad input on every route answered with a 4xx problem that says what was wrong.

use axum::http::{Method, StatusCode};
use brigade_chassis::testing::{
    assert_openapi_covers, documented_parameters, texts, JsonAnswer, SqliteApp,
};
use payments::Processor;
use payments_api::test_cards;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::processor;

/// The operations the service documents besides its document's own route.
const OPERATIONS: &[&str] = &[
    "GET /v1/audit",
    "GET /v1/charges",
    "POST /v1/charges",
    "GET /v1/charges/{id}",
    "POST /v1/charges/{id}/refund",
    "GET /v1/ledger",
];

/// The payments routes over a fresh SQLite store; its state is the processor behind them.
type App = SqliteApp<Processor>;

async fn new_app() -> App {
    SqliteApp::start(processor, |processor| payments::router(processor.clone())).await
}

/// POSTs `body` as JSON, with `key` as the Idempotency-Key when given.
async fn post(app: &App, uri: &str, key: Option<&str>, body: &Value) -> JsonAnswer {
    let request = app.call(Method::POST, uri).idempotency_key(key);
    request.json(body).send().await
}

/// POSTs `body` as it is, of `content_type`, with `key` as the Idempotency-Key when given.
async fn post_raw(
    app: &App,
    uri: &str,
    key: Option<&str>,
    content_type: &str,
    body: &str,
) -> JsonAnswer {
    let request = app.call(Method::POST, uri).idempotency_key(key);
    request.body(content_type, body.to_owned()).send().await
}

async fn charge(app: &App, key: &str, order: Uuid, card: &str) -> JsonAnswer {
    post(app, "/v1/charges", Some(key), &charge_body(order, card)).await
}

/// A charge that must be made (201): its body.
async fn created(app: &App, key: &str, order: Uuid, card: &str) -> Value {
    charge(app, key, order, card)
        .await
        .with_status(StatusCode::CREATED)
}

async fn assert_audit_clean(app: &App) {
    let audit = app.get("/v1/audit").await.ok();
    assert_eq!(audit["violations"], json!([]), "{audit}");
}

fn charge_body(order: Uuid, card: &str) -> Value {
    json!({"order_id": order, "amount_minor": 1999, "currency": "EUR", "card_number": card})
}

/// Asserts a problem naming `parameter`.
fn names(answer: &JsonAnswer, status: StatusCode, code: &str, parameter: &str) {
    answer.problem(status, code, "");
    assert_eq!(answer.body["parameter"], parameter, "{answer:?}");
}

#[tokio::test]
async fn a_charge_is_created_once_and_repeated_with_the_same_answer() {
    let app = new_app().await;
    let order = Uuid::new_v4();
    let created = created(&app, "order-1", order, test_cards::APPROVED).await;
    assert_eq!(created["order_id"], order.to_string());
    assert_eq!(created["amount_minor"], 1999);
    assert_eq!(created["currency"], "EUR");
    assert_eq!(created["status"], "captured");
    assert_eq!(created["decline_code"], Value::Null);
    assert_eq!(created["card_last4"], "4242");
    assert_eq!(created["refunded_amount_minor"], 0);
    assert!(created["created_at_ms"].as_i64().unwrap() > 0);
    assert!(created["updated_at_ms"].as_i64().unwrap() > 0);
    assert!(
        !created.to_string().contains(test_cards::APPROVED),
        "{created}"
    );
    let repeated = charge(&app, "order-1", order, test_cards::APPROVED)
        .await
        .ok();
    assert_eq!(repeated, created);

    let id = created["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/v1/charges/{id}")).await.ok(), created);
    let listed = app.get(&format!("/v1/charges?order_id={order}")).await.ok();
    assert_eq!(listed, json!({ "items": [created] }));
    let ledger = app.get(&format!("/v1/ledger?order_id={order}")).await.ok();
    assert_eq!(ledger["next"], Value::Null);
    let entries = ledger["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["kind"], "capture");
    assert_eq!(entries[0]["charge_id"], id);
    assert_eq!(entries[0]["amount_minor"], 1999);
    assert_eq!(entries[0]["currency"], "EUR");
    assert_audit_clean(&app).await;
}

#[tokio::test]
async fn declines_are_results_and_processor_errors_are_502() {
    let app = new_app().await;
    for (card, code) in [
        (test_cards::DECLINED, "card_declined"),
        (test_cards::INSUFFICIENT_FUNDS, "insufficient_funds"),
    ] {
        let order = Uuid::new_v4();
        let declined = created(&app, card, order, card).await;
        assert_eq!(declined["status"], "declined");
        assert_eq!(declined["decline_code"], code);
        assert_eq!(charge(&app, card, order, card).await.ok(), declined);
    }
    let failed = charge(&app, "flaky", Uuid::new_v4(), test_cards::PROCESSOR_ERROR).await;
    failed.problem(
        StatusCode::BAD_GATEWAY,
        "processor-error",
        "nothing was charged",
    );
    let audit = app.get("/v1/audit").await.ok();
    assert_eq!(
        audit,
        json!({"violations": [], "captures": 0, "refunds": 0, "balance_minor_by_currency": {}})
    );
}

#[tokio::test]
async fn a_slow_card_is_answered_once_it_is_captured() {
    let app = new_app().await;
    let slow = created(&app, "slow", Uuid::new_v4(), test_cards::SLOW).await;
    assert_eq!(slow["status"], "captured");
    assert!(slow["updated_at_ms"].as_i64() >= slow["created_at_ms"].as_i64());
    assert_audit_clean(&app).await;
}

#[tokio::test]
async fn conflicts_name_the_charge_they_are_about() {
    let app = new_app().await;
    let order = Uuid::new_v4();
    let paid = created(&app, "first", order, test_cards::APPROVED).await;
    let again = charge(&app, "second", order, test_cards::APPROVED).await;
    again.problem(
        StatusCode::CONFLICT,
        "already-charged",
        "already has charge",
    );
    assert_eq!(again.body["charge_id"], paid["id"]);
    assert_eq!(again.body["charge_status"], "captured");
    let reused = charge(&app, "first", Uuid::new_v4(), test_cards::APPROVED).await;
    reused.problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
        "different request",
    );
    assert_eq!(reused.body["charge_id"], paid["id"]);
    assert_audit_clean(&app).await;
}

#[tokio::test]
async fn refunds_are_full_idempotent_and_only_for_captured_charges() {
    let app = new_app().await;
    let order = Uuid::new_v4();
    let paid = created(&app, "pay", order, test_cards::APPROVED).await;
    let uri = format!("/v1/charges/{}/refund", paid["id"].as_str().unwrap());
    let refunded = post(
        &app,
        &uri,
        Some("refund-1"),
        &json!({"reason": "changed my mind"}),
    )
    .await
    .ok();
    assert_eq!(refunded["status"], "refunded");
    assert_eq!(refunded["refunded_amount_minor"], 1999);
    assert_eq!(refunded["id"], paid["id"]);
    // Again: with the same key, with no key and no body at all.
    assert_eq!(
        post(&app, &uri, Some("refund-1"), &json!({})).await.ok(),
        refunded
    );
    assert_eq!(post_raw(&app, &uri, None, "", "").await.ok(), refunded);

    let declined = created(&app, "declined", Uuid::new_v4(), test_cards::DECLINED).await;
    let declined_uri = format!("/v1/charges/{}/refund", declined["id"].as_str().unwrap());
    let refused = post(&app, &declined_uri, None, &json!({})).await;
    refused.problem(StatusCode::CONFLICT, "not-refundable", "is declined");
    assert_eq!(refused.body["charge_status"], "declined");

    let other = created(&app, "pay-2", Uuid::new_v4(), test_cards::APPROVED).await;
    let other_uri = format!("/v1/charges/{}/refund", other["id"].as_str().unwrap());
    let reused = post(&app, &other_uri, Some("refund-1"), &json!({})).await;
    reused.problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
        "refund charge",
    );
    let unknown = format!("/v1/charges/{}/refund", Uuid::new_v4());
    post(&app, &unknown, None, &json!({})).await.problem(
        StatusCode::NOT_FOUND,
        "not-found",
        "no charge",
    );

    let ledger = app.get(&format!("/v1/ledger?order_id={order}")).await.ok();
    let kinds: Vec<&str> = texts(&ledger["items"], "kind");
    assert_eq!(kinds, ["capture", "refund"]);
    let audit = app.get("/v1/audit").await.ok();
    assert_eq!(audit["violations"], json!([]));
    assert_eq!(
        (audit["captures"].clone(), audit["refunds"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(audit["balance_minor_by_currency"], json!({"EUR": 1999}));
}

#[tokio::test]
async fn bad_charges_are_refused_with_the_input_named() {
    let app = new_app().await;
    let order = Uuid::new_v4();
    let good = charge_body(order, test_cards::APPROVED);
    // The key: missing, empty, too long, not visible ASCII.
    post(&app, "/v1/charges", None, &good)
        .await
        .invalid("Idempotency-Key", "");
    for key in ["", &"k".repeat(129), "two words"] {
        post(&app, "/v1/charges", Some(key), &good)
            .await
            .invalid("Idempotency-Key", "");
    }
    // The card.
    for card in ["4242424242424241", "4242-4242-4242-4242", "42424242", "x"] {
        let answer = charge(&app, "k", order, card).await;
        names(
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-card",
            "card_number",
        );
        assert!(!answer.body["detail"].as_str().unwrap().contains(card));
    }
    // The other members.
    let with = |member: &str, value: Value| {
        let mut body = good.clone();
        body[member] = value;
        body
    };
    for (body, parameter) in [
        (with("amount_minor", json!(0)), "amount_minor"),
        (with("amount_minor", json!(-5)), "amount_minor"),
        (
            with("amount_minor", json!(1_000_000_000_001_i64)),
            "amount_minor",
        ),
        (with("currency", json!("eur")), "currency"),
        (with("currency", json!("EURO")), "currency"),
    ] {
        names(
            &post(&app, "/v1/charges", Some("k"), &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            parameter,
        );
    }
    // The shape.
    for (body, mention) in [
        (with("order_id", json!("not-a-uuid")), "order_id"),
        (with("amount_minor", json!("12")), "amount_minor"),
        (with("cvc", json!("123")), "cvc"),
        (json!({"order_id": order}), "amount_minor"),
    ] {
        post(&app, "/v1/charges", Some("k"), &body).await.problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            mention,
        );
    }
    post_raw(&app, "/v1/charges", Some("k"), "application/json", "{")
        .await
        .problem(StatusCode::BAD_REQUEST, "bad-request", "not valid JSON");
    post_raw(
        &app,
        "/v1/charges",
        Some("k"),
        "text/plain",
        &good.to_string(),
    )
    .await
    .problem(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        "JSON",
    );
    let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(20_000));
    post_raw(&app, "/v1/charges", Some("k"), "application/json", &huge)
        .await
        .problem(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "");
    // Nothing was written by any of them.
    let listed = app.get(&format!("/v1/charges?order_id={order}")).await.ok();
    assert_eq!(listed["items"], json!([]));
    assert_audit_clean(&app).await;
}

#[tokio::test]
async fn bad_input_on_every_other_route_is_refused_with_the_input_named() {
    let app = new_app().await;
    let id = Uuid::new_v4();
    app.get("/v1/charges/nope").await.invalid("id", "");
    app.get(&format!("/v1/charges/{id}")).await.problem(
        StatusCode::NOT_FOUND,
        "not-found",
        &id.to_string(),
    );
    app.get("/v1/charges")
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid-query", "order_id");
    app.get("/v1/charges?order_id=42")
        .await
        .invalid("order_id", "");
    app.get(&format!("/v1/charges?order_id={id}&status=captured"))
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid-query", "status");

    let refund = |path: &str| format!("/v1/charges/{path}/refund");
    post(&app, &refund("nope"), None, &json!({}))
        .await
        .invalid("id", "");
    post(&app, &refund(&id.to_string()), Some("bad key"), &json!({}))
        .await
        .invalid("Idempotency-Key", "");
    names(
        &post(
            &app,
            &refund(&id.to_string()),
            None,
            &json!({"reason": "x".repeat(501)}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-body",
        "reason",
    );
    post(
        &app,
        &refund(&id.to_string()),
        None,
        &json!({"amount_minor": 5}),
    )
    .await
    .problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-body",
        "amount_minor",
    );
    post_raw(&app, &refund(&id.to_string()), None, "text/plain", "{}")
        .await
        .problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "JSON",
        );
    post_raw(
        &app,
        &refund(&id.to_string()),
        None,
        "application/json",
        "{",
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "bad-request", "not valid JSON");

    for (query, parameter) in [
        ("order_id=42", "order_id"),
        ("after=abc", "after"),
        ("after=-1", "after"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
    ] {
        app.get(&format!("/v1/ledger?{query}"))
            .await
            .invalid(parameter, "");
    }
    app.get("/v1/ledger?page=2")
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid-query", "page");
    app.get("/v1/audit?verbose=1").await.problem(
        StatusCode::BAD_REQUEST,
        "invalid-query",
        "verbose",
    );
    assert_audit_clean(&app).await;
}

#[tokio::test]
async fn the_ledger_pages_with_its_cursor() {
    let app = new_app().await;
    for i in 0..5 {
        created(&app, &format!("k{i}"), Uuid::new_v4(), test_cards::APPROVED).await;
    }
    let mut uri = "/v1/ledger?limit=2".to_owned();
    let mut pages = Vec::new();
    loop {
        let page = app.get(&uri).await.ok();
        pages.push(page["items"].as_array().unwrap().len());
        match page["next"].as_str() {
            Some(next) => uri = format!("/v1/ledger?limit=2&after={next}"),
            None => break,
        }
    }
    assert_eq!(pages, [2, 2, 1]);
    let all = app.get("/v1/ledger").await.ok();
    assert_eq!(all["items"].as_array().unwrap().len(), 5);
    let audit = app.state.store().audit().await.unwrap();
    assert_eq!(audit.captures, 5);
}

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes_served() {
    let app = new_app().await;
    let document = assert_openapi_covers(app.router(), OPERATIONS).await;
    // Every documented operation is served (an unserved one would be a 404 or 405 problem).
    let paid = created(&app, "k", Uuid::new_v4(), test_cards::APPROVED).await;
    let id = paid["id"].as_str().unwrap();
    let order = paid["order_id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/charges?order_id={order}"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/v1/charges/{id}")).await.status,
        StatusCode::OK
    );
    let refund = post(&app, &format!("/v1/charges/{id}/refund"), None, &json!({})).await;
    assert_eq!(refund.status, StatusCode::OK);
    assert_eq!(app.get("/v1/audit").await.status, StatusCode::OK);
    // The ledger's documented parameters are the ones it accepts.
    assert_eq!(
        documented_parameters(&document, "get", "/v1/ledger"),
        ["order_id", "after", "limit"]
    );
    let every = format!("/v1/ledger?order_id={order}&after=0&limit=10");
    assert_eq!(app.get(&every).await.status, StatusCode::OK);
    // The test cards are documented.
    let description = document["info"]["description"].as_str().unwrap();
    for card in test_cards::ALL {
        assert!(description.contains(card), "{card}");
    }
}

/// Money moves only when orders asks: anyone else on the machine, or another service, is
/// refused before a charge or a refund is looked at.
#[tokio::test]
async fn charges_and_refunds_take_only_their_declared_callers() {
    let app = new_app().await;
    let body = charge_body(Uuid::new_v4(), "4242424242424242");
    let attempt = |caller: Option<&str>| {
        let request = app
            .call(Method::POST, "/v1/charges")
            .idempotency_key(Some("attack-1"))
            .json(&body);
        match caller {
            Some(caller) => request.caller(caller),
            None => request.without_identity(),
        }
    };
    attempt(None)
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED, "identity-required", "identity");
    attempt(Some("gateway")).send().await.problem(
        StatusCode::FORBIDDEN,
        "caller-not-accepted",
        "gateway",
    );
    let charged = attempt(Some("orders"))
        .send()
        .await
        .with_status(StatusCode::CREATED);
    let id = charged["id"].as_str().unwrap();
    let refund = |caller: &str| {
        app.call(Method::POST, &format!("/v1/charges/{id}/refund"))
            .idempotency_key(Some("attack-refund"))
            .json(&json!({ "reason": "support" }))
            .caller(caller)
    };
    refund("cart")
        .send()
        .await
        .problem(StatusCode::FORBIDDEN, "caller-not-accepted", "cart");
    refund(brigade_chassis::identity::OPERATOR)
        .send()
        .await
        .with_status(StatusCode::OK);
    assert_audit_clean(&app).await;

    // The document says who may call, for people and for contract tests alike.
    let document = assert_openapi_covers(app.router(), OPERATIONS).await;
    let callers = |path: &str| {
        document["paths"][path]["post"][brigade_chassis::openapi::CALLERS_EXTENSION].clone()
    };
    assert_eq!(callers("/v1/charges"), json!(["orders"]));
    assert_eq!(
        callers("/v1/charges/{id}/refund"),
        json!(["orders", brigade_chassis::identity::OPERATOR])
    );
    for status in ["401", "403"] {
        assert!(
            document["paths"]["/v1/charges"]["post"]["responses"][status].is_object(),
            "{status} is not documented"
        );
    }
}
