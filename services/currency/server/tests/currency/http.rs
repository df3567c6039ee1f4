//! Every route in process, through the same middleware as a running instance: the answers'
//! shape, replacing the rates, and bad input on every parameter answered with a 4xx problem that
//! says what was wrong.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use brigade_chassis::testing::{self, assert_openapi_covers, JsonAnswer, TestApp};
use currency::App;
use currency_api::paths;
use serde_json::{json, Value};

use crate::support::{sample, sampled};

/// The operations the service documents besides its document's own route.
const OPERATIONS: &[&str] = &["GET /v1/currencies", "GET /v1/convert", "PUT /v1/rates"];

/// The service's router over a fresh SQLite store with the sample table in force, served in
/// process; the directory guard keeps the store.
async fn api() -> (TestApp, tempfile::TempDir) {
    let (db, dir) = testing::sqlite_db().await;
    let store = sampled(db).await;
    let sample = Arc::new(sample());
    (TestApp::new(currency::router(App { store, sample })), dir)
}

/// `PUT /v1/rates` with `body`.
async fn put(api: &TestApp, body: &Value) -> JsonAnswer {
    let request = api.call(Method::PUT, paths::RATES);
    request.json(body).send().await
}

#[tokio::test]
async fn the_currencies_are_listed_as_documented() {
    let (api, _dir) = api().await;
    let body = api.get("/v1/currencies").await.ok();
    assert_eq!(body["base"], "EUR");
    assert_eq!(body["date"], "2026-12-04");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), sample().items.len());
    let find = |code: &str| items.iter().find(|c| c["code"] == code).unwrap().clone();
    assert_eq!(
        find("JPY"),
        json!({"code": "JPY", "name": "Japanese yen", "exponent": 0, "rate": "180.87"})
    );
    assert_eq!(find("EUR")["rate"], "1");
    assert_eq!(find("KWD")["exponent"], 3);
    let codes: Vec<&str> = items.iter().map(|c| c["code"].as_str().unwrap()).collect();
    let mut sorted = codes.clone();
    sorted.sort_unstable();
    assert_eq!(codes, sorted, "by code");
}

#[tokio::test]
async fn a_conversion_is_answered_with_the_rates_and_their_date() {
    let (api, _dir) = api().await;
    let body = api
        .get("/v1/convert?from=USD&to=JPY&amount=1234")
        .await
        .ok();
    assert_eq!(
        body,
        json!({
            "from": {"amount_minor": 1234, "currency": "USD"},
            "to": {"amount_minor": 1917, "currency": "JPY"},
            "rate": "155.31987978",
            "from_rate": "1.1645",
            "to_rate": "180.87",
            "base": "EUR",
            "date": "2026-12-04",
        })
    );
    let same = api.get("/v1/convert?from=GBP&to=GBP&amount=5").await.ok();
    assert_eq!(
        (same["to"]["amount_minor"].clone(), same["rate"].clone()),
        (json!(5), json!("1"))
    );
    let zero = api.get("/v1/convert?amount=0&to=KWD&from=EUR").await.ok();
    assert_eq!(zero["to"], json!({"amount_minor": 0, "currency": "KWD"}));
}

#[tokio::test]
async fn replaced_rates_are_in_force_at_once_and_putting_them_twice_is_putting_them_once() {
    let (api, _dir) = api().await;
    let table = json!({"date": "2026-12-05", "rates": {"EUR": "1", "USD": "1.25", "JPY": "150"}});
    let answer = put(&api, &table).await.ok();
    assert_eq!(
        answer,
        json!({
            "base": "EUR",
            "date": "2026-12-05",
            "items": [
                {"code": "EUR", "name": "Euro", "exponent": 2, "rate": "1"},
                {"code": "JPY", "name": "Japanese yen", "exponent": 0, "rate": "150"},
                {"code": "USD", "name": "US dollar", "exponent": 2, "rate": "1.25"},
            ],
        })
    );
    assert_eq!(put(&api, &table).await.ok(), answer);
    assert_eq!(api.get("/v1/currencies").await.ok(), answer);
    // 1 USD = 120 JPY now.
    let converted = api.get("/v1/convert?from=USD&to=JPY&amount=100").await.ok();
    assert_eq!(converted["to"]["amount_minor"], 120);
    assert_eq!(converted["date"], "2026-12-05");
    // GBP left the table: no longer supported.
    api.get("/v1/convert?from=GBP&to=EUR&amount=1")
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown-currency", "GBP");
}

/// Asserts a 422 `unknown-currency` naming `parameter` and `code`.
fn unknown(answer: &JsonAnswer, parameter: &str, code: &str) {
    let body = answer.problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown-currency", code);
    assert_eq!(
        (body["parameter"].as_str(), body["currency"].as_str()),
        (Some(parameter), Some(code))
    );
}

#[tokio::test]
async fn bad_conversions_are_4xx_problems_naming_the_parameter() {
    let (api, _dir) = api().await;
    for (query, parameter, says) in [
        ("to=JPY&amount=1", "from", "from is required"),
        ("from=USD&amount=1", "to", "to is required"),
        ("from=USD&to=JPY", "amount", "amount is required"),
        ("from=usd&to=JPY&amount=1", "from", "got `usd`"),
        ("from=USD&to=JP&amount=1", "to", "three upper-case letters"),
        ("from=USD&to=JPY&amount=1.5", "amount", "got `1.5`"),
        ("from=USD&to=JPY&amount=-3", "amount", "from 0 to"),
        ("from=USD&to=JPY&amount=ten", "amount", "whole number"),
        (
            "from=USD&to=JPY&amount=1000000000000001",
            "amount",
            "from 0 to",
        ),
        ("from=USD&to=JPY&amount=", "amount", "got ``"),
    ] {
        api.get(&format!("/v1/convert?{query}"))
            .await
            .invalid(parameter, says);
    }
    let answer = api.get("/v1/convert?from=XAU&to=JPY&amount=1").await;
    unknown(&answer, "from", "XAU");
    let answer = api.get("/v1/convert?from=USD&to=ABC&amount=1").await;
    unknown(&answer, "to", "ABC");
    // Refused whole, before any rule: a parameter the route does not take, or one given twice.
    for uri in [
        "/v1/convert?from=USD&to=JPY&amount=1&fee=2",
        "/v1/convert?from=USD&from=EUR&to=JPY&amount=1",
        "/v1/currencies?page=2",
    ] {
        let answer = api.get(uri).await;
        answer.problem(StatusCode::BAD_REQUEST, "invalid-query", "");
    }
    let answer = api.call(Method::POST, paths::CONVERT).send().await;
    answer.problem(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "");
}

#[tokio::test]
async fn bad_tables_are_refused_and_leave_the_rates_in_force() {
    let (api, _dir) = api().await;
    let before = api.get("/v1/currencies").await.ok();
    let rates = |extra: Value| {
        let mut rates = json!({"EUR": "1", "USD": "1.1"});
        rates
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        rates
    };
    for (body, parameter, says) in [
        (
            json!({"date": "2026-02-30", "rates": rates(json!({}))}),
            "date",
            "YYYY-MM-DD",
        ),
        (
            json!({"date": "2026-12-05", "rates": {}}),
            "rates",
            "1 to 200",
        ),
        (
            json!({"date": "2026-12-05", "rates": {"USD": "1.1"}}),
            "rates",
            "EUR",
        ),
        (
            json!({"date": "2026-12-05", "rates": {"EUR": "2"}}),
            "rates.EUR",
            "must be 1",
        ),
        (
            json!({"date": "2026-12-05", "rates": rates(json!({"JPY": "0"}))}),
            "rates.JPY",
            "positive",
        ),
        (
            json!({"date": "2026-12-05", "rates": rates(json!({"JPY": "1e3"}))}),
            "rates.JPY",
            "got `1e3`",
        ),
        (
            json!({"date": "2026-12-05", "rates": rates(json!({"jpy": "150"}))}),
            "rates",
            "got `jpy`",
        ),
    ] {
        put(&api, &body).await.invalid(parameter, says);
    }
    let table = json!({"date": "2026-12-05", "rates": rates(json!({"XAU": "0.0004"}))});
    let answer = put(&api, &table).await;
    unknown(&answer, "rates.XAU", "XAU");
    for (body, says) in [
        (json!({"date": "2026-12-05", "rates": {"EUR": 1}}), "rates"),
        (json!({"date": "2026-12-05"}), "rates"),
        (
            json!({"date": "2026-12-05", "rates": {"EUR": "1"}, "source": "ecb"}),
            "source",
        ),
    ] {
        put(&api, &body)
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body", says);
    }
    assert_eq!(api.get("/v1/currencies").await.ok(), before);
}

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes_served() {
    let (api, _dir) = api().await;
    let document = assert_openapi_covers(api.router(), OPERATIONS).await;
    let convert = &document["paths"]["/v1/convert"]["get"];
    assert_eq!(convert["operationId"], "convert");
    let parameters = convert["parameters"].as_array().unwrap();
    for name in ["from", "to", "amount"] {
        let parameter = parameters.iter().find(|p| p["name"] == name).unwrap();
        assert_eq!(parameter["required"], true, "{name}");
    }
    assert!(convert["responses"]["422"].is_object());
    let replace = &document["paths"]["/v1/rates"]["put"];
    assert_eq!(replace["tags"], json!(["operator"]));
    let converted = &document["components"]["schemas"]["Converted"]["properties"];
    assert_eq!(converted["from_rate"]["type"], "string");
    assert!(converted["to"]["description"]
        .as_str()
        .unwrap()
        .contains("half to even"));
}
