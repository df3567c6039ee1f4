//! The shipping quote route, against a real shipping instance: quotes as shipping gives them,
//! bad input refused at the edge, an unknown country passed through, and shipping down a 503
//! `shipping-unavailable`.

use brigade_chassis::testing::{fetch_json, Instance, JsonAnswer};
use gateway::GatewayService;
use http::StatusCode;
use serde_json::{json, Value};

async fn quote(base: &str, body: &Value) -> JsonAnswer {
    let request = http::Request::post(format!("{base}/api/v1/shipping/quote"))
        .header("content-type", "application/json")
        .body(body.to_string().into_bytes().into())
        .unwrap();
    fetch_json(request).await
}

fn to(country: &str) -> Value {
    json!({"country": country, "items": [{"sku": "KIT-0001", "quantity": 2}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_is_shippings_and_shipping_down_is_a_503_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shipping.db").display());
    let shipping = Instance::start::<shipping::Shipping>(&["--database-url", &url]).await;
    let peers = format!("shipping={}", shipping.address);
    let gateway = Instance::start::<GatewayService>(&["--peers", &peers]).await;
    let base = gateway.url();

    let answer = quote(&base, &to("FR")).await.ok();
    assert_eq!(
        answer["cost"],
        json!({"amount_minor": 490, "currency": "EUR"})
    );
    assert_eq!(answer["carrier"], "Brigade Post");
    quote(&base, &to("XK")).await.problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown-country",
        "XK",
    );
    quote(&base, &to("fr")).await.invalid("country", "");
    let no_items = json!({"country": "FR", "items": []});
    quote(&base, &no_items).await.invalid("items", "");

    shipping.stop().await.unwrap();
    quote(&base, &to("FR")).await.problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "shipping-unavailable",
        "try again",
    );
    gateway.stop().await.unwrap();
}
