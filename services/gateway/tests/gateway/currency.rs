//! The currencies and conversion through the gateway, against a real currency instance started
//! the way `main` starts it: the answers, bad input refused at the edge, the service's own
//! refusals passed through, and the service down.

use brigade_chassis::testing::Instance;
use gateway::GatewayService;
use http::StatusCode;
use serde_json::json;

use crate::support::{get, start_currency};

async fn gateway_to(currency: &str) -> Instance {
    Instance::start::<GatewayService>(&["--peers", &format!("currency={currency}")]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shoppers_see_the_currencies_and_convert_through_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let currency = start_currency(dir.path()).await;
    let gateway = gateway_to(&currency.address.to_string()).await;
    let base = gateway.url();

    let list = get(&base, "/api/v1/currencies").await.ok();
    assert_eq!(
        (list["base"].as_str(), list["date"].as_str()),
        (Some("EUR"), Some("2026-12-04"))
    );
    let yen = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "JPY");
    assert_eq!(yen.map(|c| c["exponent"].clone()), Some(json!(0)));

    let converted = get(&base, "/api/v1/convert?from=USD&to=JPY&amount=1234")
        .await
        .ok();
    assert_eq!(
        converted["to"],
        json!({"amount_minor": 1917, "currency": "JPY"})
    );
    assert_eq!(converted["from_rate"], "1.1645");

    // The service's own refusal passes through as it is.
    let unknown = get(&base, "/api/v1/convert?from=USD&to=XAU&amount=1").await;
    let problem = unknown.problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown-currency", "XAU");
    assert_eq!(problem["parameter"], "to");
    // Replacing the rates is the currency service's operator route, not the gateway's.
    let rates = get(&base, "/api/v1/rates").await;
    rates.problem(StatusCode::NOT_FOUND, "not-found", "");
    gateway.stop().await.unwrap();
    currency.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_at_the_edge_and_a_currency_service_down_is_a_503() {
    // Nothing listens there: every call to the currency service fails to connect.
    let (listener, address) = brigade_chassis::testing::loopback_listener().await;
    drop(listener);
    let gateway = gateway_to(&address.to_string()).await;
    let base = gateway.url();
    for (query, parameter) in [
        ("to=JPY&amount=1", "from"),
        ("from=USD&to=jpy&amount=1", "to"),
        ("from=USD&to=JPY&amount=1.5", "amount"),
        ("from=USD&to=JPY&amount=-1", "amount"),
    ] {
        let answer = get(&base, &format!("/api/v1/convert?{query}")).await;
        answer.invalid(parameter, parameter);
    }
    let extra = get(&base, "/api/v1/convert?from=USD&to=JPY&amount=1&x=1").await;
    extra.problem(StatusCode::BAD_REQUEST, "invalid-query", "x");
    for path in [
        "/api/v1/currencies",
        "/api/v1/convert?from=USD&to=JPY&amount=1",
    ] {
        let down = get(&base, path).await;
        down.problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "service-unavailable",
            "currency",
        );
    }
    gateway.stop().await.unwrap();
}

/// Checkout in another currency: the gateway documents `currency` (and the order's
/// `conversion`), refuses a malformed code at the edge, passes a good one through to orders, and
/// passes orders' `currency-unavailable` 503 through as it is (here from a stand-in orders that
/// answers it, as orders does when the currency service is down).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_takes_a_currency_and_passes_currency_unavailable_through() {
    use std::sync::{Arc, Mutex};

    use axum::response::IntoResponse;
    use brigade_chassis::testing::{app, fetch_json, serve_in_background, TestKeys};
    use brigade_chassis::Problem;
    use serde_json::Value;

    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let kept = seen.clone();
    let orders = axum::Router::new().route(
        "/v1/checkout",
        axum::routing::post(move |body: String| {
            let kept = kept.clone();
            async move {
                kept.lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap());
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "currency-unavailable",
                    "Currency unavailable",
                    "the currency service could not convert the total; nothing was ordered"
                        .to_owned(),
                )
                .into_response()
            }
        }),
    );
    let orders = serve_in_background(app(orders)).await;
    let keys = TestKeys::new();
    let gateway = Instance::start::<GatewayService>(&[
        "--peers",
        &format!("orders={orders}"),
        "--jwks-file",
        &keys.jwks_path(),
    ])
    .await;
    let base = gateway.url();
    let token = format!(
        "Bearer {}",
        keys.token(uuid::Uuid::new_v4(), "buyer@example.com")
    );
    let checkout = |key: &'static str, currency: &'static str| {
        let body = json!({"card_number": "4242424242424242", "currency": currency});
        let request = http::Request::post(format!("{base}/api/v1/checkout"))
            .header("content-type", "application/json")
            .header("authorization", token.as_str())
            .header("idempotency-key", key)
            .body(body.to_string().into_bytes().into())
            .unwrap();
        fetch_json(request)
    };

    checkout("k1", "usd").await.invalid("currency", "ISO 4217");
    assert!(seen.lock().unwrap().is_empty(), "refused at the edge");
    checkout("k2", "USD").await.problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "currency-unavailable",
        "nothing was ordered",
    );
    let forwarded = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(forwarded["currency"], "USD");

    let document = get(&base, "/api/v1/openapi.json").await.ok();
    let schemas = &document["components"]["schemas"];
    assert_eq!(
        schemas["CheckoutRequest"]["properties"]["currency"]["pattern"],
        "^[A-Z]{3}$"
    );
    assert!(
        schemas["Order"]["properties"]["conversion"].is_object(),
        "{}",
        schemas["Order"]
    );
    assert!(schemas["OrderConversion"]["properties"]["rate_date"].is_object());
    let checkout_doc = &document["paths"]["/api/v1/checkout"]["post"];
    let unavailable = checkout_doc["responses"]["503"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(
        unavailable.contains("currency-unavailable"),
        "{unavailable}"
    );
}
