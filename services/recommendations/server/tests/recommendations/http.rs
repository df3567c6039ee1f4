//! Every route in process, through the same middleware as a running instance: the answers'
//! shape, and bad input on every parameter answered with a 4xx problem that says what was wrong.

use axum::http::{Method, StatusCode};
use brigade_chassis::db::Db;
use brigade_chassis::testing::{assert_openapi_covers, texts, SqliteApp};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{id, Model};

/// The operations the service documents besides its document's own route.
const OPERATIONS: &[&str] = &[
    "GET /v1/recommendations/products/{product_id}",
    "GET /v1/recommendations/users/{user_id}",
];

/// The service's routes over a fresh SQLite store holding a small shop.
type App = SqliteApp<Shop>;

async fn new_app() -> App {
    SqliteApp::start(small_shop, |shop| {
        recommendations::router(shop.model.store.clone())
    })
    .await
}

/// Products 1 to 6 announced, and orders {1, 2}, {1, 2}, {1, 3} by others and {4} by `user`.
struct Shop {
    model: Model,
    user: Uuid,
}

async fn small_shop(db: Db) -> Shop {
    let mut model = Model::new(db).await;
    model.announce(&[1, 2, 3, 4, 5, 6]).await;
    model.confirm(Uuid::new_v4(), &[(1, 1), (2, 1)]).await;
    model.confirm(Uuid::new_v4(), &[(1, 1), (2, 2)]).await;
    model.confirm(Uuid::new_v4(), &[(1, 1), (3, 1)]).await;
    let user = Uuid::new_v4();
    model.confirm(user, &[(4, 1)]).await;
    Shop { model, user }
}

fn product_uri(n: u128) -> String {
    format!("/v1/recommendations/products/{}", id(n))
}

/// The product ids of an answer, as product numbers.
fn numbers(body: &Value) -> Vec<u128> {
    let first = id(0).as_u128();
    let ids = texts(&body["items"], "product_id").into_iter();
    ids.map(|text| Uuid::parse_str(text).unwrap().as_u128() - first)
        .collect()
}

/// Product `n` as an answer shows it (as the shop announced it), recommended for `reason`.
fn recommended(n: u128, reason: &str, score: u32) -> Value {
    json!({
        "product_id": id(n).to_string(),
        "sku": format!("REC-{n:04}"),
        "name": format!("Product {n}"),
        "price": {"amount_minor": u64::try_from(n).unwrap() * 100, "currency": "EUR"},
        "image_url": format!("/images/rec-{n}.jpg"),
        "reason": reason,
        "score": score,
    })
}

#[tokio::test]
async fn a_products_recommendations_are_answered_as_documented() {
    let app = new_app().await;
    let body = app.get(&format!("{}?limit=2", product_uri(1))).await.ok();
    assert_eq!(
        body,
        json!({
            "items": [
                recommended(2, "bought_together", 2),
                recommended(3, "bought_together", 1),
            ],
            "fallback": false,
        })
    );
    // Without a limit: 4, topped up with the popular 4 (2's and 3's places are taken).
    let body = app.get(&product_uri(1)).await.ok();
    assert_eq!(numbers(&body), [2, 3, 4]);
    assert_eq!(body["items"][2]["reason"], "popular");
    assert_eq!(body["items"][2]["score"], 1);
    // A product never heard of is not a 404: popular products, as a fallback.
    let body = app
        .get(&format!("/v1/recommendations/products/{}", Uuid::new_v4()))
        .await
        .ok();
    assert_eq!(numbers(&body), [1, 2, 3, 4]);
    assert_eq!(body["fallback"], true);
    let body = app.get(&format!("{}?limit=20", product_uri(6))).await.ok();
    assert_eq!(numbers(&body), [1, 2, 3, 4]);
}

#[tokio::test]
async fn a_users_recommendations_are_answered_as_documented() {
    let app = new_app().await;
    // The user bought only 4, never with anything: popular products other than 4.
    let body = app
        .get(&format!(
            "/v1/recommendations/users/{}?limit=3",
            app.state.user
        ))
        .await
        .ok();
    assert_eq!(numbers(&body), [1, 2, 3]);
    assert_eq!(body["fallback"], true);
    assert!(body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["reason"] == "popular"));
    // A user never heard of gets the popular products.
    let body = app
        .get(&format!("/v1/recommendations/users/{}", Uuid::new_v4()))
        .await
        .ok();
    assert_eq!(numbers(&body), [1, 2, 3, 4]);
}

#[tokio::test]
async fn bad_input_on_every_parameter_is_a_400_problem_naming_it() {
    let app = new_app().await;
    let product = product_uri(1);
    let user = format!("/v1/recommendations/users/{}", app.state.user);
    for base in [&product, &user] {
        for bad in ["0", "21", "-1", "abc", "", "2.5", "99999999999"] {
            app.get(&format!("{base}?limit={bad}"))
                .await
                .invalid("limit", &format!("got `{bad}`"));
        }
        app.get(&format!("{base}?limit=3&limit=4")).await.problem(
            StatusCode::BAD_REQUEST,
            "invalid-query",
            "limit",
        );
        app.get(&format!("{base}?limt=3")).await.problem(
            StatusCode::BAD_REQUEST,
            "invalid-query",
            "limt",
        );
        app.call(Method::POST, base).send().await.problem(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "",
        );
    }
    app.get("/v1/recommendations/products/kettle")
        .await
        .invalid("product_id", "`kettle` is not a product id");
    app.get("/v1/recommendations/users/me?limit=2")
        .await
        .invalid("user_id", "`me` is not a user id");
    // A bad id is reported before a bad limit.
    app.get("/v1/recommendations/users/me?limit=0")
        .await
        .invalid("user_id", "`me`");
    let long = "x".repeat(5000);
    let answer = app
        .get(&format!("/v1/recommendations/products/{long}"))
        .await;
    answer.invalid("product_id", "is not a product id");
    assert!(answer.body["detail"].as_str().unwrap().len() < 200);
    app.get("/v1/recommendations/products")
        .await
        .problem(StatusCode::NOT_FOUND, "not-found", "");
}

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes_served() {
    let app = new_app().await;
    let document = assert_openapi_covers(app.router(), OPERATIONS).await;
    assert_eq!(
        recommendations_api::paths::PRODUCT_PATTERN,
        "/v1/recommendations/products/{product_id}"
    );
    assert_eq!(
        recommendations_api::paths::USER_PATTERN,
        "/v1/recommendations/users/{user_id}"
    );
    // Every documented operation is served.
    app.get(&product_uri(1)).await.ok();
    app.get(&format!("/v1/recommendations/users/{}", app.state.user))
        .await
        .ok();
    // The documented limits and reasons are the contract's.
    let parameters = document["paths"][recommendations_api::paths::PRODUCT_PATTERN]["get"]
        ["parameters"]
        .as_array()
        .unwrap();
    let limit = &parameters.iter().find(|p| p["name"] == "limit").unwrap()["schema"];
    assert_eq!(limit["minimum"], recommendations_api::MIN_LIMIT);
    assert_eq!(limit["maximum"], recommendations_api::MAX_LIMIT);
    assert_eq!(limit["default"], recommendations_api::DEFAULT_LIMIT);
    let item = &document["components"]["schemas"]["Recommendation"];
    assert_eq!(
        item["properties"]["reason"]["enum"],
        json!(["bought_together", "popular"])
    );
    let required: Vec<&str> = item["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let answer = app.get(&product_uri(1)).await.ok();
    let mut served: Vec<&str> = answer["items"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    served.sort_unstable();
    let mut documented = required.clone();
    documented.sort_unstable();
    assert_eq!(served, documented);
}
