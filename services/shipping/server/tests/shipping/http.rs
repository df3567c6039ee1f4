//! Every route in process: quotes by the table, shipments, bad input as problems, and the
//! OpenAPI document.

use axum::http::StatusCode;
use brigade_chassis::testing::{assert_openapi_covers, SqliteApp};
use serde_json::json;
use uuid::Uuid;

use crate::support::{confirmed, Feed};

/// The operations the service documents besides its document's own route.
const OPERATIONS: &[&str] = &["GET /v1/shipments/{order_id}", "POST /v1/quotes"];

/// The shipping routes over a fresh SQLite store; its state is the feed of events it ships.
type App = SqliteApp<Feed>;

async fn new_app() -> App {
    SqliteApp::start(Feed::new, |feed| shipping::router(feed.store.clone())).await
}

#[tokio::test]
async fn a_quote_follows_the_table() {
    let app = new_app().await;
    let quote = app
        .post(
            "/v1/quotes",
            json!({"country": "FR", "items": [{"sku": "KIT-0001", "quantity": 3}]}),
        )
        .await
        .ok();
    assert_eq!(quote["zone"], "domestic");
    assert_eq!(quote["carrier"], "Brigade Post");
    assert_eq!(
        quote["cost"],
        json!({"amount_minor": 590, "currency": "EUR"})
    );
    assert_eq!(quote["weight_grams"], 1500);
    assert_eq!(quote["delivery_days"], 2);
    assert_eq!(quote["estimated_delivery"].as_str().unwrap().len(), 10);
    let heavy = app
        .post(
            "/v1/quotes",
            json!({"country": "US", "items": [
                {"sku": "A", "quantity": 1, "unit_weight_grams": 2500},
                {"sku": "B", "quantity": 2, "unit_weight_grams": 250},
            ]}),
        )
        .await
        .ok();
    assert_eq!(heavy["cost"]["amount_minor"], 2490 + 2 * 600);
}

#[tokio::test]
async fn a_country_the_shop_does_not_ship_to_is_named() {
    let app = new_app().await;
    let answer = app
        .post(
            "/v1/quotes",
            json!({"country": "XK", "items": [{"sku": "A", "quantity": 1}]}),
        )
        .await;
    let problem = answer.problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown-country", "XK");
    assert_eq!(problem["country"], "XK");
}

#[tokio::test]
async fn bad_input_is_a_problem_naming_the_parameter() {
    let app = new_app().await;
    for (body, parameter) in [
        (
            json!({"country": "france", "items": [{"sku": "A", "quantity": 1}]}),
            "country",
        ),
        (json!({"country": "FR", "items": []}), "items"),
        (
            json!({"country": "FR", "items": [{"sku": "A", "quantity": 0}]}),
            "items[0].quantity",
        ),
        (
            json!({"country": "FR", "items": [{"sku": "a b", "quantity": 1}]}),
            "items[0].sku",
        ),
    ] {
        app.post("/v1/quotes", body).await.invalid(parameter, "");
    }
    // Not a quote at all: the extractor's problem.
    let answer = app.post("/v1/quotes", json!({"country": "FR"})).await;
    assert!(answer.status.is_client_error(), "{:?}", answer.status);
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json")
    );
    app.get("/v1/shipments/not-an-id")
        .await
        .invalid("order_id", "not an order id");
}

#[tokio::test]
async fn a_shipment_is_read_once_the_order_is_confirmed() {
    let app = new_app().await;
    let order = confirmed(Some("FR"));
    let uri = format!("/v1/shipments/{}", order.order_id);
    app.get(&uri)
        .await
        .problem(StatusCode::NOT_FOUND, "not-found", "no shipment");
    app.state
        .deliver(&brigade_chassis::events::Envelope::of(&order, 1).unwrap())
        .await;
    let shipment = app.get(&uri).await.ok();
    assert_eq!(shipment["status"], "created");
    assert_eq!(
        shipment["tracking_number"],
        shipping_api::tracking_number(order.order_id)
    );
}

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes_served() {
    let app = new_app().await;
    let document = assert_openapi_covers(app.router(), OPERATIONS).await;
    let served = [
        app.post(
            "/v1/quotes",
            json!({"country": "DE", "items": [{"sku": "A", "quantity": 1}]}),
        )
        .await
        .status,
        app.get(&format!("/v1/shipments/{}", Uuid::new_v4()))
            .await
            .status,
    ];
    assert_eq!(served, [StatusCode::OK, StatusCode::NOT_FOUND]);
    let description = document["info"]["description"].as_str().unwrap();
    assert!(description.contains(shipping_api::problems::UNKNOWN_COUNTRY));
}
