//! Every route in process, through the same middleware as a running instance, against a fake
//! catalog on a real socket: the happy paths, re-pricing, a catalog outage, and bad input on
//! every route answered with a 4xx problem that says what was wrong.

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use axum::Router;
use brigade_chassis::testing::{self, assert_openapi_covers, JsonAnswer, TestKeys, TestRequest};
use cart::{AppState, Store};
use catalog_api::{CatalogClient, Product};
use serde_json::json;
use uuid::Uuid;

use crate::support::{dead_catalog, migrated, FakeCatalog};

/// The operations the service documents besides its document's own route.
const OPERATIONS: &[&str] = &[
    "DELETE /v1/cart",
    "DELETE /v1/cart/items/{product_id}",
    "GET /v1/cart",
    "PUT /v1/cart/items/{product_id}",
];

/// A cart app over a fresh SQLite store, with a fake catalog and test keys.
struct App {
    router: Router,
    store: Store,
    catalog: FakeCatalog,
    keys: TestKeys,
    _dir: tempfile::TempDir,
}

impl App {
    async fn new() -> App {
        let (db, dir) = testing::sqlite_db().await;
        let store = migrated(db).await;
        let catalog = FakeCatalog::start().await;
        let keys = TestKeys::new();
        let router = router(&store, catalog.client(), &keys);
        App {
            router,
            store,
            catalog,
            keys,
            _dir: dir,
        }
    }

    /// The same store and keys, with a catalog that cannot be reached.
    async fn with_catalog_down(&self) -> Router {
        router(&self.store, dead_catalog().await, &self.keys)
    }

    fn token(&self, user: Uuid) -> String {
        self.keys.token(user, "shopper@example.com")
    }

    async fn call(&self, method: Method, uri: &str, token: &str, body: Option<&str>) -> JsonAnswer {
        request(&self.router, method, uri, Some(token), body)
            .send()
            .await
    }

    async fn get(&self, token: &str) -> JsonAnswer {
        self.call(Method::GET, "/v1/cart", token, None).await
    }

    async fn put(&self, token: &str, product: Uuid, quantity: i64) -> JsonAnswer {
        let body = json!({ "quantity": quantity }).to_string();
        self.call(Method::PUT, &item(product), token, Some(&body))
            .await
    }

    /// Puts two kettles (24.99 EUR each) and a pan (10.00 EUR) in the token's cart: the
    /// products, and the cart as it is then.
    async fn two_kettles_and_a_pan(&self, token: &str) -> (Product, Product, cart_api::Cart) {
        let kettle = self.catalog.put(1, 2499, "EUR");
        let pan = self.catalog.put(2, 1000, "EUR");
        self.put(token, kettle.id, 2).await.cart();
        let cart = self.put(token, pan.id, 1).await.cart();
        (kettle, pan, cart)
    }

    async fn delete(&self, token: &str, product: Uuid) -> JsonAnswer {
        self.call(Method::DELETE, &item(product), token, None).await
    }

    async fn clear(&self, token: &str) -> JsonAnswer {
        self.call(Method::DELETE, "/v1/cart", token, None).await
    }
}

fn router(store: &Store, catalog: CatalogClient, keys: &TestKeys) -> Router {
    testing::app(cart::router(AppState {
        store: store.clone(),
        catalog,
        verifier: keys.verifier(),
    }))
}

fn item(product: Uuid) -> String {
    cart_api::paths::item(product)
}

/// A request to `router` with a bearer `token` and a JSON `body` when given.
fn request<'a>(
    router: &'a Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> TestRequest<'a> {
    let request = TestRequest::to(router, method, uri).token(token);
    match body {
        Some(body) => request.body("application/json", body.to_owned()),
        None => request,
    }
}

/// Reads a 200 JSON answer as the cart it holds.
trait CartAnswer {
    fn cart(self) -> cart_api::Cart;
}

impl CartAnswer for JsonAnswer {
    fn cart(self) -> cart_api::Cart {
        serde_json::from_value(self.ok()).unwrap()
    }
}

fn skus(cart: &cart_api::Cart) -> Vec<(&str, u32)> {
    cart.lines
        .iter()
        .map(|l| (l.sku.as_str(), l.quantity))
        .collect()
}

#[tokio::test]
async fn lines_are_added_changed_removed_and_cleared_with_the_catalogs_prices() {
    let app = App::new().await;
    let user = Uuid::new_v4();
    let token = app.token(user);
    let kettle = app.catalog.put(1, 2499, "EUR");
    let pan = app.catalog.put(2, 1000, "EUR");

    let empty = app.get(&token).await.cart();
    assert_eq!(empty.user_id, user);
    assert!(empty.lines.is_empty() && empty.prices_current);
    assert_eq!(
        (empty.version, empty.item_count, empty.total.amount_minor),
        (0, 0, 0)
    );

    let added = app.put(&token, kettle.id, 2).await.cart();
    assert_eq!(added.version, 1);
    let line = &added.lines[0];
    assert_eq!(
        (line.product_id, line.sku.as_str(), line.name.as_str()),
        (kettle.id, "TST-0001", "Test product 1")
    );
    assert_eq!(line.unit_price, kettle.price);
    assert_eq!(line.line_total.amount_minor, 4998);
    assert_eq!(
        (added.total.amount_minor, added.total.currency.as_str()),
        (4998, "EUR")
    );
    assert!(added.prices_current && added.removed.is_empty());

    let both = app.put(&token, pan.id, 1).await.cart();
    let changed = app.put(&token, kettle.id, 5).await.cart();
    assert_eq!((both.version, changed.version), (2, 3));
    assert_eq!(skus(&changed), [("TST-0001", 5), ("TST-0002", 1)]);
    assert_eq!(
        (changed.item_count, changed.total.amount_minor),
        (6, 13_495)
    );
    // The same PUT again changes nothing.
    assert_eq!(app.put(&token, kettle.id, 5).await.cart().version, 3);
    assert_eq!(app.get(&token).await.cart(), changed);

    let removed = app.delete(&token, kettle.id).await.cart();
    assert_eq!(
        (removed.version, skus(&removed)),
        (4, vec![("TST-0002", 1)])
    );
    // Removing an absent line is fine, and changes nothing.
    assert_eq!(app.delete(&token, kettle.id).await.cart(), removed);

    let cleared = app.clear(&token).await.cart();
    assert_eq!((cleared.version, cleared.lines.len()), (5, 0));
    assert_eq!(cleared.total.amount_minor, 0);
    assert_eq!(app.clear(&token).await.cart(), cleared);
}

#[tokio::test]
async fn reading_reprices_the_cart_and_drops_products_the_catalog_no_longer_has() {
    let app = App::new().await;
    let token = app.token(Uuid::new_v4());
    let (_, pan, before) = app.two_kettles_and_a_pan(&token).await;

    // A read with nothing new changes nothing.
    assert_eq!(app.get(&token).await.cart(), before);

    let mut cheaper = app.catalog.put(1, 1999, "EUR");
    cheaper.name = "Test product 1".into();
    app.catalog.delete(pan.id);
    let repriced = app.get(&token).await.cart();
    assert_eq!(repriced.version, before.version + 1);
    assert_eq!(repriced.removed, vec![pan.id]);
    assert_eq!(skus(&repriced), [("TST-0001", 2)]);
    assert_eq!(repriced.lines[0].unit_price.amount_minor, 1999);
    assert_eq!(repriced.total.amount_minor, 3998);
    assert!(repriced.prices_current);

    // The new price is stored: the next read has nothing to change or report.
    let again = app.get(&token).await.cart();
    assert_eq!(again.version, repriced.version);
    assert!(again.removed.is_empty());
    assert_eq!(again.lines, repriced.lines);
}

#[tokio::test]
async fn an_unknown_product_is_refused_and_changes_nothing() {
    let app = App::new().await;
    let token = app.token(Uuid::new_v4());
    let kettle = app.catalog.put(1, 2499, "EUR");
    let before = app.put(&token, kettle.id, 1).await.cart();
    let unknown = Uuid::new_v4();
    let answer = app.put(&token, unknown, 1).await;
    answer.problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown-product",
        &unknown.to_string(),
    );
    assert_eq!(answer.body["product_id"], unknown.to_string());
    assert_eq!(app.get(&token).await.cart(), before);
}

#[tokio::test]
async fn a_cart_holds_at_most_50_products_in_one_currency() {
    let app = App::new().await;
    let token = app.token(Uuid::new_v4());
    for n in 1..=50 {
        let product = app.catalog.put(n, 100, "EUR");
        app.put(&token, product.id, 1).await.cart();
    }
    let one_more = app.catalog.put(51, 100, "EUR");
    let answer = app.put(&token, one_more.id, 1).await;
    answer.problem(StatusCode::UNPROCESSABLE_ENTITY, "cart-full", "50");
    assert_eq!(answer.body["max_lines"], 50);
    // A line already there still changes.
    let first = app.catalog.put(1, 100, "EUR");
    assert_eq!(
        app.put(&token, first.id, 9).await.cart().lines[0].quantity,
        9
    );

    let other = app.token(Uuid::new_v4());
    let eur = app.catalog.put(60, 100, "EUR");
    let usd = app.catalog.put(61, 100, "USD");
    app.put(&other, eur.id, 1).await.cart();
    let answer = app.put(&other, usd.id, 1).await;
    answer.problem(StatusCode::UNPROCESSABLE_ENTITY, "currency-mismatch", "USD");
    assert_eq!(
        (
            &answer.body["cart_currency"],
            &answer.body["product_currency"]
        ),
        (&json!("EUR"), &json!("USD"))
    );
    assert_eq!(app.get(&other).await.cart().lines.len(), 1);
}

#[tokio::test]
async fn a_user_never_sees_or_changes_another_users_cart() {
    let app = App::new().await;
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let (alice_token, bob_token) = (app.token(alice), app.token(bob));
    let kettle = app.catalog.put(1, 2499, "EUR");
    let alices = app.put(&alice_token, kettle.id, 3).await.cart();

    let bobs = app.get(&bob_token).await.cart();
    assert_eq!((bobs.user_id, bobs.lines.len()), (bob, 0));
    // Bob's removals and clearing reach only his own cart.
    app.delete(&bob_token, kettle.id).await.cart();
    app.clear(&bob_token).await.cart();
    assert_eq!(app.get(&alice_token).await.cart(), alices);
}

#[tokio::test]
async fn every_route_needs_a_valid_token() {
    let app = App::new().await;
    let product = app.catalog.put(1, 100, "EUR");
    let stranger = TestKeys::new().token(Uuid::new_v4(), "mallory@example.com");
    let routes = [
        (Method::GET, "/v1/cart".to_owned(), None),
        (Method::DELETE, "/v1/cart".to_owned(), None),
        (Method::PUT, item(product.id), Some(r#"{"quantity":1}"#)),
        (Method::DELETE, item(product.id), None),
    ];
    for (method, uri, body) in routes {
        for (token, detail) in [
            (None, "sign in"),
            (Some("not-a-jwt"), "invalid"),
            (Some(stranger.as_str()), "invalid"),
        ] {
            let answer = request(&app.router, method.clone(), &uri, token, body)
                .send()
                .await;
            answer.problem(StatusCode::UNAUTHORIZED, "unauthorized", detail);
            assert_eq!(
                answer.header(header::WWW_AUTHENTICATE),
                Some(r#"Bearer realm="brigade""#),
                "{method} {uri}"
            );
        }
        request(&app.router, method.clone(), &uri, None, body)
            .header(header::AUTHORIZATION, "Basic dXNlcjpwdw==")
            .send()
            .await
            .problem(StatusCode::UNAUTHORIZED, "unauthorized", "Bearer");
    }
}

#[tokio::test]
async fn with_the_catalog_down_reads_and_removals_work_and_adding_is_503() {
    let app = App::new().await;
    let token = app.token(Uuid::new_v4());
    let (kettle, pan, before) = app.two_kettles_and_a_pan(&token).await;

    let down = app.with_catalog_down().await;
    let read = request(&down, Method::GET, "/v1/cart", Some(&token), None)
        .send()
        .await
        .cart();
    assert!(!read.prices_current);
    assert_eq!(
        (read.lines.clone(), read.version),
        (before.lines.clone(), before.version)
    );
    assert_eq!(read.total, before.total);

    let body = r#"{"quantity":4}"#;
    request(
        &down,
        Method::PUT,
        &item(kettle.id),
        Some(&token),
        Some(body),
    )
    .send()
    .await
    .problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "service-unavailable",
        "catalog",
    );

    let removed = request(&down, Method::DELETE, &item(pan.id), Some(&token), None)
        .send()
        .await
        .cart();
    assert!(!removed.prices_current);
    assert_eq!(skus(&removed), [("TST-0001", 2)]);
    let cleared = request(&down, Method::DELETE, "/v1/cart", Some(&token), None)
        .send()
        .await
        .cart();
    assert!(cleared.lines.is_empty() && cleared.prices_current);
}

#[tokio::test]
async fn bad_input_on_every_route_is_a_4xx_problem_naming_it() {
    let app = App::new().await;
    let token = app.token(Uuid::new_v4());
    let product = app.catalog.put(1, 100, "EUR");
    let uri = item(product.id);
    for (method, uri, content_type, body, status, code, detail) in [
        (
            Method::GET,
            "/v1/cart?user_id=x",
            None,
            None,
            StatusCode::BAD_REQUEST,
            "invalid-query",
            "user_id",
        ),
        (
            Method::DELETE,
            "/v1/cart?all=1",
            None,
            None,
            StatusCode::BAD_REQUEST,
            "invalid-query",
            "all",
        ),
        (
            Method::DELETE,
            "/v1/cart/items/kettle",
            None,
            None,
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            "`kettle` is not a product id",
        ),
        (
            Method::PUT,
            "/v1/cart/items/kettle",
            Some("application/json"),
            Some(r#"{"quantity":1}"#.to_owned()),
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            "`kettle` is not a product id",
        ),
        (
            Method::PUT,
            uri.as_str(),
            Some("application/json"),
            Some(r#"{"quantity":0}"#.to_owned()),
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            "quantity must be between 1 and 99, got 0",
        ),
        (
            Method::PUT,
            uri.as_str(),
            Some("application/json"),
            Some(r#"{"quantity":100}"#.to_owned()),
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            "got 100",
        ),
        (
            Method::PUT,
            uri.as_str(),
            Some("application/json"),
            Some(r#"{"quantity":-1}"#.to_owned()),
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            "got -1",
        ),
        (
            Method::PUT,
            uri.as_str(),
            Some("application/json"),
            Some(r#"{"quantity":"two"}"#.to_owned()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "quantity",
        ),
        (
            Method::PUT,
            uri.as_str(),
            Some("application/json"),
            Some(r#"{"quantity":1.5}"#.to_owned()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "quantity",
        ),
        (
            Method::PUT,
            uri.as_str(),
            Some("application/json"),
            Some(r#"{}"#.to_owned()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "missing field `quantity`",
        ),
        (
            Method::PUT,
            uri.as_str(),
            Some("application/json"),
            Some(r#"{"quantity":1,"unit_price":1}"#.to_owned()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "unknown field `unit_price`",
        ),
        (
            Method::PUT,
            uri.as_str(),
            Some("application/json"),
            Some(r#"{"quantity":"#.to_owned()),
            StatusCode::BAD_REQUEST,
            "bad-request",
            "not valid JSON",
        ),
        (
            Method::PUT,
            uri.as_str(),
            Some("application/json"),
            None,
            StatusCode::BAD_REQUEST,
            "bad-request",
            "JSON",
        ),
        (
            Method::PUT,
            uri.as_str(),
            Some("text/plain"),
            Some(r#"{"quantity":1}"#.to_owned()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "application/json",
        ),
        (
            Method::PUT,
            uri.as_str(),
            Some("application/json"),
            Some(format!(r#"{{"quantity":1,"pad":"{}"}}"#, " ".repeat(4096))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "larger",
        ),
        (
            Method::PUT,
            &format!("{uri}?quantity=1"),
            Some("application/json"),
            Some(r#"{"quantity":1}"#.to_owned()),
            StatusCode::BAD_REQUEST,
            "invalid-query",
            "quantity",
        ),
        (
            Method::POST,
            "/v1/cart",
            None,
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "POST",
        ),
        (
            Method::GET,
            uri.as_str(),
            None,
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "GET",
        ),
        (
            Method::GET,
            "/v1/carts",
            None,
            None,
            StatusCode::NOT_FOUND,
            "not-found",
            "/v1/carts",
        ),
    ] {
        let answer = TestRequest::to(&app.router, method.clone(), uri)
            .token(Some(&token))
            .body(
                content_type.unwrap_or_default(),
                body.map_or_else(Body::empty, Body::from),
            )
            .send()
            .await;
        answer.problem(status, code, detail);
        if code == "invalid-parameter" {
            assert!(
                answer.body["parameter"].is_string(),
                "{method} {uri}: {answer:?}"
            );
        }
    }
    // Nothing of it reached the cart.
    assert_eq!(app.get(&token).await.cart().version, 0);
}

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes_served() {
    let app = App::new().await;
    let template = "/v1/cart/items/{product_id}";
    let document = assert_openapi_covers(&app.router, OPERATIONS).await;
    assert_eq!(cart_api::paths::ITEM_PATTERN, template);
    // Every documented operation is served (an unserved one would be a 404 or 405 problem).
    let token = app.token(Uuid::new_v4());
    let product = app.catalog.put(1, 100, "EUR");
    assert_eq!(app.get(&token).await.status, StatusCode::OK);
    assert_eq!(app.put(&token, product.id, 1).await.status, StatusCode::OK);
    assert_eq!(app.delete(&token, product.id).await.status, StatusCode::OK);
    assert_eq!(app.clear(&token).await.status, StatusCode::OK);
    // The documented problem extensions are the ones answered.
    let problem = &document["components"]["schemas"]["Problem"]["properties"];
    for member in [
        "parameter",
        "product_id",
        "max_lines",
        "cart_currency",
        "product_currency",
    ] {
        assert!(problem[member].is_object(), "{member}");
    }
}
