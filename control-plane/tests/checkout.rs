//! Checkout end to end, across processes: `brigade up` runs every service, a shopper signs up,
//! fills a cart and checks out through the gateway; the orders process is killed at each step
//! of a checkout; the promise checker reads every service at the end of each run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use brigade_chassis::client::plain::PlainClient;
use http::{Method, Request};
use serde_json::{json, Value};
use support::System;

/// A shopper talking to the gateway.
struct Shopper {
    gateway: String,
    token: String,
}

async fn send(
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
    async fn sign_up(gateway: &str, email: &str) -> Shopper {
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

    async fn get(&self, path: &str) -> (u16, Value) {
        send(
            Method::GET,
            &format!("{}{path}", self.gateway),
            Some(&self.token),
            &[],
            None,
        )
        .await
    }

    async fn add(&self, product_id: &str, quantity: u32) {
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

    async fn checkout(&self, key: &str, card: &str) -> (u16, Value) {
        send(
            Method::POST,
            &format!("{}/api/v1/checkout", self.gateway),
            Some(&self.token),
            &[("idempotency-key", key)],
            Some(json!({ "card_number": card })),
        )
        .await
    }

    /// Waits until the shopper has `count` orders and none is PENDING; returns them.
    async fn settled_orders(&self, count: usize, limit: Duration) -> Vec<Value> {
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

/// Some product id from the catalog, through the gateway.
async fn product(gateway: &str, index: usize) -> Value {
    let (status, body) = send(
        Method::GET,
        &format!("{gateway}/api/v1/products?page_size=20"),
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["items"][index].clone()
}

async fn assert_promises_hold(system: &System) {
    let report = brigade::checker::check(&system.control, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(report.holds(), "{report}");
}

/// The address of a service's instance, from the registry (for operator calls in tests).
async fn instance_url(system: &System, service: &str) -> String {
    let instances = system.instances(service).await;
    format!("http://{}", instances.instances[0].registration.address)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shoppers_check_out_across_processes_and_every_promise_holds() {
    let system = System::up().await;
    let ada = Shopper::sign_up(&system.gateway, "ada@example.com").await;
    let bob = Shopper::sign_up(&system.gateway, "bob@example.com").await;
    let kettle = product(&system.gateway, 0).await;
    let kettle_id = kettle["id"].as_str().unwrap();

    // Approved.
    ada.add(kettle_id, 2).await;
    let (status, order) = ada.checkout("ada-1", "4242424242424242").await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["status"], "CONFIRMED", "{order}");
    let unit = kettle["price"]["amount_minor"].as_i64().unwrap();
    assert_eq!(order["total"]["amount_minor"].as_i64().unwrap(), 2 * unit);
    // The same key again: the same order, no second charge.
    let (status, again) = ada.checkout("ada-1", "4242424242424242").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], order["id"]);
    // The cart was cleared by the confirmed checkout.
    let (_, cart) = ada.get("/api/v1/cart").await;
    assert_eq!(cart["lines"].as_array().unwrap().len(), 0, "{cart}");

    // Declined: cancelled with the reason, nothing kept.
    ada.add(kettle_id, 1).await;
    let (status, declined) = ada.checkout("ada-2", "4000000000000002").await;
    assert_eq!(status, 201, "{declined}");
    assert_eq!(declined["status"], "CANCELLED");
    assert_eq!(declined["cancel_reason"], "payment_declined");

    // Out of stock: cancelled, nothing charged.
    let sku = kettle["sku"].as_str().unwrap();
    let inventory = instance_url(&system, "inventory").await;
    let stock_url = format!("{inventory}/v1/stock/{sku}");
    let (_, level) = send(Method::GET, &stock_url, None, &[], None).await;
    let taken = level["held"].as_u64().unwrap() + level["committed"].as_u64().unwrap();
    let (status, _) = send(
        Method::PUT,
        &stock_url,
        None,
        &[],
        Some(json!({ "stock": taken })),
    )
    .await;
    assert_eq!(status, 200);
    bob.add(kettle_id, 1).await;
    let (status, sold_out) = bob.checkout("bob-1", "4242424242424242").await;
    assert_eq!(status, 201, "{sold_out}");
    assert_eq!(sold_out["cancel_reason"], "out_of_stock", "{sold_out}");

    // Each shopper sees only their own orders.
    let ada_order = format!("/api/v1/orders/{}", order["id"].as_str().unwrap());
    assert_eq!(ada.get(&ada_order).await.0, 200);
    assert_eq!(bob.get(&ada_order).await.0, 404);
    assert_eq!(bob.settled_orders(1, Duration::from_secs(5)).await.len(), 1);
    assert_eq!(ada.settled_orders(2, Duration::from_secs(5)).await.len(), 2);

    // Bad input at the edge: a 4xx problem, never a 500.
    for (status, body) in [
        ada.checkout("", "4242424242424242").await,
        ada.checkout("ada-3", "12").await,
        ada.get("/api/v1/orders/not-an-id").await,
        send(
            Method::GET,
            &format!("{}/api/v1/cart", system.gateway),
            None,
            &[],
            None,
        )
        .await,
    ] {
        assert!((400..500).contains(&status), "{status} {body}");
        assert!(body["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:brigade:problem:"));
    }

    assert_promises_hold(&system).await;
}

/// The repository's manifest with orders as one instance that exits right after persisting
/// `step` (the supervisor restarts it; the restarted instance's recovery loop finishes the saga
/// once the dead instance's short lease has lapsed).
fn manifest_crashing_orders_after(step: &str) -> String {
    brigade::manifest::EMBEDDED.replace(
        "[[service]]\nname = \"orders\"\ninstances = 2\n\n[service.env]\n",
        &format!(
            "[[service]]\nname = \"orders\"\ninstances = 1\n\n[service.env]\n\
             BRIGADE_ORDERS_CRASH_AFTER_STEP = \"{step}\"\n\
             BRIGADE_ORDERS_SAGA_LEASE = \"2s\"\n\
             BRIGADE_ORDERS_RECOVERY_INTERVAL = \"500ms\"\n"
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orders_process_killed_at_any_step_of_a_checkout_loses_nothing() {
    for step in ["created", "reserved", "charged", "committed"] {
        let manifest = manifest_crashing_orders_after(step);
        assert_ne!(
            manifest,
            brigade::manifest::EMBEDDED,
            "the manifest changed shape"
        );
        let system = System::up_with(Some(&manifest)).await;
        let shopper = Shopper::sign_up(&system.gateway, &format!("{step}@example.com")).await;
        shopper
            .add(product(&system.gateway, 1).await["id"].as_str().unwrap(), 1)
            .await;
        // The request may fail with the process; the order must not.
        let (status, body) = shopper.checkout("key-1", "4242424242424242").await;
        eprintln!("checkout with a crash after `{step}`: {status} {body}");
        let orders = shopper.settled_orders(1, Duration::from_secs(60)).await;
        assert_eq!(
            orders[0]["status"], "CONFIRMED",
            "after `{step}`: {}",
            orders[0]
        );
        // Repeating the request gives the same order.
        let (status, again) = shopper.checkout("key-1", "4242424242424242").await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["id"], orders[0]["id"]);
        assert_promises_hold(&system).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_shoppers_racing_for_thirty_units_buy_exactly_thirty() {
    // Services trust a test key, so that a hundred shoppers need no hundred password hashes.
    let keys = brigade_chassis::testing::TestKeys::new();
    let manifest = brigade::manifest::EMBEDDED.replace(
        "[service.env]\n",
        &format!(
            "[service.env]\nBRIGADE_JWKS_FILE = \"{}\"\n",
            keys.jwks_path()
        ),
    );
    let system = System::up_with(Some(&manifest)).await;
    let item = product(&system.gateway, 2).await;
    let (id, sku) = (item["id"].as_str().unwrap(), item["sku"].as_str().unwrap());
    let inventory = instance_url(&system, "inventory").await;
    let (status, level) = send(
        Method::PUT,
        &format!("{inventory}/v1/stock/{sku}"),
        None,
        &[],
        Some(json!({ "stock": 30 })),
    )
    .await;
    assert_eq!(status, 200, "{level}");

    let shoppers: Vec<Shopper> = (0..100)
        .map(|i| Shopper {
            gateway: system.gateway.clone(),
            token: keys.token(uuid::Uuid::new_v4(), &format!("shopper{i}@example.com")),
        })
        .collect();
    for shopper in &shoppers {
        shopper.add(id, 1).await;
    }
    let checkouts = shoppers
        .iter()
        .map(|s| s.checkout("race", "4242424242424242"));
    for (status, body) in futures_util::future::join_all(checkouts).await {
        assert!(
            [200, 201, 202].contains(&status),
            "a checkout failed: {status} {body}"
        );
    }

    let report = brigade::checker::check(&system.control, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(report.holds(), "{report}");
    assert_eq!(report.orders.get("CONFIRMED"), Some(&30), "{report}");
    assert_eq!(report.orders.get("CANCELLED"), Some(&70), "{report}");
    assert_eq!(report.captures, 30, "{report}");
    let (_, level) = send(
        Method::GET,
        &format!("{inventory}/v1/stock/{sku}"),
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(level["committed"], 30, "{level}");
    assert_eq!(level["available"], 0, "{level}");
}
