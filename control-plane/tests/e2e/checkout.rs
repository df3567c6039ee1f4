//! Checkout end to end, across processes: `brigade up` runs every service, a shopper signs up,
//! fills a cart and checks out through the gateway; the orders process is killed at each step
//! of a checkout; the promise checker reads every service at the end of each run.

use std::time::Duration;

use crate::support::shop::{get, product, send, Shopper};
use crate::support::System;
use http::Method;
use serde_json::json;

/// Every promise holds (`brigade check`, letting 30 s settle); the report, for what a test
/// counts further.
pub(crate) async fn assert_promises_hold(system: &System) -> brigade_operator::checker::Report {
    assert_promises_hold_within(system, Duration::from_secs(30)).await
}

/// [`assert_promises_hold`], letting `settle` pass for what is still moving.
pub(crate) async fn assert_promises_hold_within(
    system: &System,
    settle: Duration,
) -> brigade_operator::checker::Report {
    let report = brigade_operator::checker::check(&system.control, &system.credential(), settle)
        .await
        .unwrap();
    assert!(report.holds(), "{report}");
    report
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

    // Approved, once for the same key.
    let order = ada.buy_once(&kettle, 2, "ada-1").await;
    // The cart empties itself of the ordered lines once it receives OrderConfirmed.
    ada.empty_cart(Duration::from_secs(5)).await;

    // Declined: cancelled with the reason, nothing kept.
    ada.buy_declined(&kettle, "ada-2").await;

    cart_changes_made_while_an_order_is_paid_for_stay(&system).await;

    // Out of stock: cancelled, nothing charged.
    let sku = kettle["sku"].as_str().unwrap();
    let inventory = instance_url(&system, "inventory").await;
    let stock_url = format!("{inventory}/v1/stock/{sku}");
    // Stock is an operator's to read and set: without an identity, refused.
    let (name, token) = system.operator("inventory").await;
    let operator = [(name, token.as_str())];
    let (_, level) = send(Method::GET, &stock_url, None, &operator, None).await;
    let taken = level["held"].as_u64().unwrap() + level["committed"].as_u64().unwrap();
    let stock = Some(json!({ "stock": taken }));
    let (status, refused) = send(Method::PUT, &stock_url, None, &[], stock.clone()).await;
    assert_eq!(status, 401, "{refused}");
    let (status, _) = send(Method::PUT, &stock_url, None, &operator, stock).await;
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
        get(&format!("{}/api/v1/cart", system.gateway)).await,
    ] {
        assert!((400..500).contains(&status), "{status} {body}");
        assert!(body["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:brigade:problem:"));
    }

    assert_promises_hold(&system).await;
}

/// A shopper who changes the cart while the order is being paid for (the slow card takes 3 s)
/// keeps the change: the confirmation takes out only the lines as the order was priced, so the
/// product removed and added again stays, while the untouched line goes.
async fn cart_changes_made_while_an_order_is_paid_for_stay(system: &System) {
    let cy = Shopper::sign_up(&system.gateway, "cy@example.com").await;
    let (pan, mug) = (
        product(&system.gateway, 1).await,
        product(&system.gateway, 2).await,
    );
    let (pan, mug) = (pan["id"].as_str().unwrap(), mug["id"].as_str().unwrap());
    cy.add(pan, 1).await;
    cy.add(mug, 2).await;
    let paying = {
        let cy = cy.clone();
        tokio::spawn(async move { cy.checkout("cy-1", "4000000000000259").await })
    };
    // Once the order exists, pending on the slow card: the pan out of the cart and back in.
    let started = tokio::time::Instant::now();
    while cy.get("/api/v1/orders").await.1["items"][0]["status"] != "PENDING" {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no pending order"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cy.remove(pan).await;
    cy.add(pan, 1).await;
    let (status, order) = paying.await.unwrap();
    assert!([201, 202].contains(&status), "{status} {order}");
    assert_eq!(
        cy.settled_orders(1, Duration::from_secs(10)).await[0]["status"],
        "CONFIRMED"
    );
    // The mug, untouched since the checkout, leaves with the confirmation; the pan stays.
    while cy.cart_lines().await.iter().any(|(id, _)| id == mug) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the mug stayed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(cy.cart_lines().await, [(pan.to_owned(), 1)]);
}

/// The repository's manifest with orders as one instance that exits right after persisting
/// `step` (the supervisor restarts it; the restarted instance's recovery loop finishes the saga
/// once the dead instance's short lease has lapsed).
fn manifest_crashing_orders_after(step: &str) -> String {
    brigade_operator::harness::MANIFEST.replace(
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
            brigade_operator::harness::MANIFEST,
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
    let manifest = brigade_operator::harness::MANIFEST.replace(
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
    let (name, token) = system.operator("inventory").await;
    let (status, level) = send(
        Method::PUT,
        &format!("{inventory}/v1/stock/{sku}"),
        None,
        &[(name, &token)],
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

    let report = assert_promises_hold_within(&system, Duration::from_secs(60)).await;
    assert_eq!(report.orders.get("CONFIRMED"), Some(&30), "{report}");
    assert_eq!(report.orders.get("CANCELLED"), Some(&70), "{report}");
    assert_eq!(report.captures, 30, "{report}");
    let url = format!("{inventory}/v1/stock/{sku}");
    let (_, level) = send(Method::GET, &url, None, &[(name, &token)], None).await;
    assert_eq!(level["committed"], 30, "{level}");
    assert_eq!(level["available"], 0, "{level}");
}
