//! A shopper driving the system through the gateway, as the end-to-end tests do.

use std::time::Duration;

use tokio::time::Instant;

use brigade_chassis::client::plain::PlainClient;
use http::{Method, Request};
use serde_json::{json, Value};

/// A shopper talking to the gateway.
#[derive(Clone)]
pub struct Shopper {
    pub gateway: String,
    pub token: String,
}

pub async fn send(
    method: Method,
    url: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = Request::builder().method(method).uri(url);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    match PlainClient::new(Duration::from_secs(20))
        .send_request(request.body(body.into()).unwrap())
        .await
    {
        Ok(answer) => (
            answer.status.as_u16(),
            serde_json::from_slice(&answer.body).unwrap_or(Value::Null),
        ),
        // The orders process may die mid-request in the crash tests.
        Err(e) => (0, json!({ "transport_error": e.to_string() })),
    }
}

impl Shopper {
    pub async fn sign_up(gateway: &str, email: &str) -> Shopper {
        let password = "correct horse battery staple";
        let (status, body) = send(
            Method::POST,
            &format!("{gateway}/api/v1/users"),
            None,
            &[],
            Some(json!({"email": email, "password": password, "name": "Test Shopper"})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let (status, body) = send(
            Method::POST,
            &format!("{gateway}/api/v1/sessions"),
            None,
            &[],
            Some(json!({"email": email, "password": password})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        Shopper {
            gateway: gateway.to_owned(),
            token: body["access_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        send(
            Method::GET,
            &format!("{}{path}", self.gateway),
            Some(&self.token),
            &[],
            None,
        )
        .await
    }

    pub async fn add(&self, product_id: &str, quantity: u32) {
        let (status, body) = send(
            Method::PUT,
            &format!("{}/api/v1/cart/items/{product_id}", self.gateway),
            Some(&self.token),
            &[],
            Some(json!({ "quantity": quantity })),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }

    pub async fn remove(&self, product_id: &str) {
        let (status, body) = send(
            Method::DELETE,
            &format!("{}/api/v1/cart/items/{product_id}", self.gateway),
            Some(&self.token),
            &[],
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }

    /// The cart's lines: product id and quantity, in the cart's order.
    pub async fn cart_lines(&self) -> Vec<(String, u64)> {
        let (status, cart) = self.get("/api/v1/cart").await;
        assert_eq!(status, 200, "{cart}");
        items(&cart["lines"])
            .map(|l| {
                let id = l["product_id"].as_str().unwrap_or_default().to_owned();
                (id, l["quantity"].as_u64().unwrap_or_default())
            })
            .collect()
    }

    pub async fn checkout(&self, key: &str, card: &str) -> (u16, Value) {
        send(
            Method::POST,
            &format!("{}/api/v1/checkout", self.gateway),
            Some(&self.token),
            &[("idempotency-key", key)],
            Some(json!({ "card_number": card })),
        )
        .await
    }

    /// Buys `quantity` of `product` with an approved card and idempotency key `key`: the order
    /// is confirmed at the product's price, and the same key again answers the same order (no
    /// second charge). Returns the order.
    pub async fn buy_once(&self, product: &Value, quantity: u32, key: &str) -> Value {
        self.add(product["id"].as_str().unwrap(), quantity).await;
        let (status, order) = self.checkout(key, "4242424242424242").await;
        assert_eq!(status, 201, "{order}");
        assert_eq!(order["status"], "CONFIRMED", "{order}");
        let unit = product["price"]["amount_minor"].as_i64().unwrap();
        assert_eq!(
            order["total"]["amount_minor"].as_i64().unwrap(),
            i64::from(quantity) * unit
        );
        let (status, again) = self.checkout(key, "4242424242424242").await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["id"], order["id"]);
        order
    }

    /// Tries to buy one `product` with a card that is declined (key `key`): the order is made
    /// and cancelled for the decline, nothing kept. Returns the order.
    pub async fn buy_declined(&self, product: &Value, key: &str) -> Value {
        self.add(product["id"].as_str().unwrap(), 1).await;
        let (status, order) = self.checkout(key, "4000000000000002").await;
        assert_eq!(status, 201, "{order}");
        assert_eq!(order["status"], "CANCELLED", "{order}");
        assert_eq!(order["cancel_reason"], "payment_declined", "{order}");
        order
    }

    /// A checkout in trace `trace_id`, as a caller that traces its own requests sends it.
    pub async fn checkout_traced(&self, key: &str, card: &str, trace_id: &str) -> (u16, Value) {
        send(
            Method::POST,
            &format!("{}/api/v1/checkout", self.gateway),
            Some(&self.token),
            &[
                ("idempotency-key", key),
                ("traceparent", &format!("00-{trace_id}-00f067aa0ba902b7-01")),
            ],
            Some(json!({ "card_number": card })),
        )
        .await
    }

    /// Waits until the shopper's cart is empty: the cart takes a confirmed order's lines out when
    /// it receives `OrderConfirmed`, after the checkout has answered.
    pub async fn empty_cart(&self, limit: Duration) {
        let started = Instant::now();
        loop {
            let (status, cart) = self.get("/api/v1/cart").await;
            if status == 200 && cart["lines"].as_array().is_some_and(|l| l.is_empty()) {
                return;
            }
            assert!(
                started.elapsed() < limit,
                "the cart was not emptied: {status} {cart}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the shopper has `count` orders and none is PENDING; returns them.
    pub async fn settled_orders(&self, count: usize, limit: Duration) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let (status, body) = self.get("/api/v1/orders").await;
            if status == 200 {
                let items = body["items"].as_array().cloned().unwrap_or_default();
                if items.len() == count && items.iter().all(|o| o["status"] != "PENDING") {
                    return items;
                }
            }
            assert!(
                started.elapsed() < limit,
                "orders did not settle: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// `GET url` without a token: status and JSON body.
pub async fn get(url: &str) -> (u16, Value) {
    send(Method::GET, url, None, &[], None).await
}

/// A new shopper (`email`) buys the first product in a checkout traced as `trace_id` (with
/// idempotency key `key`): the order, created.
pub async fn traced_checkout(gateway: &str, email: &str, key: &str, trace_id: &str) -> Value {
    let shopper = Shopper::sign_up(gateway, email).await;
    let first = product(gateway, 0).await;
    shopper.add(first["id"].as_str().unwrap(), 1).await;
    let (status, order) = shopper
        .checkout_traced(key, "4242424242424242", trace_id)
        .await;
    assert_eq!(status, 201, "{order}");
    order
}

/// Some product id from the catalog, through the gateway.
pub async fn product(gateway: &str, index: usize) -> Value {
    let (status, body) = get(&format!("{gateway}/api/v1/products?page_size=20")).await;
    assert_eq!(status, 200, "{body}");
    body["items"][index].clone()
}

/// The items of the JSON array `value` (none when it is not an array).
pub fn items(value: &Value) -> impl Iterator<Item = &Value> {
    value.as_array().into_iter().flatten()
}

/// Every span of an OTLP JSON trace, whichever resource and scope it is under.
pub fn spans(trace: &Value) -> impl Iterator<Item = &Value> {
    items(&trace["resourceSpans"])
        .flat_map(|r| items(&r["scopeSpans"]))
        .flat_map(|s| items(&s["spans"]))
}
