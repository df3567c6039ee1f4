//! Events end to end, across processes, on both transports: `brigade up` (embedded, and with
//! `--nats`) runs every service; a shopper's confirmed order reaches the recommendations and the
//! cart through events, and nothing is parked.

use std::time::Duration;

use tokio::time::Instant;

use brigade_chassis::client::plain::PlainClient;
use brigade_chassis::testing::texts;
use http::Method;

use crate::support::shop::{get, product, send, Shopper};
use crate::support::System;

/// The product ids a product page's recommendations show, bought together with it.
async fn bought_together(gateway: &str, product_id: &str) -> Vec<String> {
    let (status, body) = get(&format!(
        "{gateway}/api/v1/products/{product_id}/recommendations?limit=10"
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["reason"] == "bought_together")
        .map(|item| item["product_id"].as_str().unwrap().to_owned())
        .collect()
}

/// How long an event may take before the test calls it lost rather than slow. How fast events
/// arrive is measured by `brigade bench events` (publish-to-applied latency), not asserted here:
/// a shared, loaded machine makes any tight bound flaky.
const LOST_AFTER: Duration = Duration::from_secs(30);

async fn a_confirmed_order_changes_the_recommendations(system: &System) {
    let first = product(&system.gateway, 0).await;
    let second = product(&system.gateway, 1).await;
    let (first, second) = (
        first["id"].as_str().unwrap().to_owned(),
        second["id"].as_str().unwrap().to_owned(),
    );
    assert!(bought_together(&system.gateway, &first).await.is_empty());

    let shopper = Shopper::sign_up(&system.gateway, "grace@example.com").await;
    shopper.add(&first, 1).await;
    shopper.add(&second, 2).await;
    let (status, order) = shopper.checkout("grace-1", "4242424242424242").await;
    assert!(status == 201 || status == 202, "{status} {order}");
    let orders = shopper.settled_orders(1, Duration::from_secs(20)).await;
    let confirmed = Instant::now();
    assert_eq!(orders[0]["status"], "CONFIRMED", "{orders:?}");

    // OrderConfirmed: orders → recommendations.
    loop {
        if bought_together(&system.gateway, &first).await == [second.clone()] {
            break;
        }
        assert!(
            confirmed.elapsed() < LOST_AFTER,
            "the recommendations did not learn of the order within {LOST_AFTER:?} of its confirmation"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The other way round needs the first product's facts, from the catalog's ProductChanged
    // events of its start-up, which a just-started system may still be applying.
    let started = Instant::now();
    while bought_together(&system.gateway, &second).await != [first.clone()] {
        assert!(
            started.elapsed() < LOST_AFTER,
            "the second product's page never showed the first as bought together"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // OrderConfirmed: orders → cart.
    shopper.empty_cart(LOST_AFTER).await;
    // What the shopper bought is not recommended to them again.
    let (status, mine) = shopper.get("/api/v1/me/recommendations?limit=10").await;
    assert_eq!(status, 200, "{mine}");
    let mine: Vec<&str> = texts(&mine["items"], "product_id");
    assert!(
        !mine.contains(&first.as_str()) && !mine.contains(&second.as_str()),
        "{mine:?}"
    );

    // PaymentRefunded: payments → orders. Support refunds the order through payments' API; the
    // order's history shows it.
    let charge_id = orders[0]["charge_id"].as_str().unwrap().to_owned();
    let order_id = orders[0]["id"].as_str().unwrap().to_owned();
    let payments = system.instances("payments").await.instances[0]
        .registration
        .address
        .clone();
    let refund_url = format!("http://{payments}/v1/charges/{charge_id}/refund");
    let reason = Some(serde_json::json!({ "reason": "the customer asked" }));
    // Not anyone may refund: without an identity, refused.
    let key = ("idempotency-key", "support-refund-1");
    let (status, refused) = send(Method::POST, &refund_url, None, &[key], reason.clone()).await;
    assert_eq!(status, 401, "{refused}");
    assert_eq!(
        refused["type"], "urn:brigade:problem:identity-required",
        "{refused}"
    );
    let (name, operator) = system.operator("payments").await;
    let (status, refund) = send(
        Method::POST,
        &refund_url,
        None,
        &[key, (name, &operator)],
        reason,
    )
    .await;
    assert_eq!(status, 200, "{refund}");
    let refunded = Instant::now();
    loop {
        let (status, order) = shopper.get(&format!("/api/v1/orders/{order_id}")).await;
        assert_eq!(status, 200, "{order}");
        let recorded = order["history"].as_array().unwrap().iter().any(|h| {
            h["step"] == "refund"
                && h["outcome"] == "refunded"
                && h["detail"].as_str().unwrap().contains(&charge_id)
        });
        if recorded {
            break;
        }
        assert!(
            refunded.elapsed() < LOST_AFTER,
            "the order's history did not show the refund within {LOST_AFTER:?}: {order}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Every event of the run applied: nothing parked anywhere.
    let view = system.view().await.unwrap();
    let parked = brigade_operator::events::parked(&view, &PlainClient::new(Duration::from_secs(5)))
        .await
        .unwrap();
    let services: Vec<&str> = parked.iter().map(|l| l.service.as_str()).collect();
    for consumer in [
        "cart",
        "inventory",
        "orders",
        "recommendations",
        "notifications",
        "shipping",
    ] {
        assert!(
            services.contains(&consumer),
            "{consumer} serves its parked events: {services:?}"
        );
    }
    assert!(parked.iter().all(|l| l.items.is_empty()), "{parked:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_embedded_transport() {
    let system = System::up().await;
    a_confirmed_order_changes_the_recommendations(&system).await;

    // The operator's commands, as a person types them.
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_brigade"))
            .args(args)
            .args(["--control-url", &system.control])
            .env(
                "BRIGADE_OPERATOR_TOKEN_FILE",
                system.running.operator_token_file(),
            )
            .output()
            .unwrap()
    };
    let listed = run(&["events", "parked"]);
    assert!(listed.status.success(), "{listed:?}");
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        "no parked events\n"
    );
    let unknown = run(&["events", "replay", "no-such-event"]);
    assert!(!unknown.status.success());
    let message = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        message.contains("no service has a parked event with id `no-such-event`"),
        "{message}"
    );
    let refused = run(&["events", "replay", "no-such-event", "--service", "cart"]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("cart refused the replay (404"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_nats_jetstream() {
    let Some(url) = brigade_chassis::testing::nats_url().await else {
        return;
    };
    let namespace = brigade_chassis::testing::unique_namespace("e2e");
    let system =
        System::up_with_args(None, &["--nats", &url, "--events-namespace", &namespace]).await;
    a_confirmed_order_changes_the_recommendations(&system).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_refuses_an_unreachable_nats() {
    // Every port chosen by the system: a developer's own `brigade up` may hold the defaults.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_brigade"))
        .args(["up", "--control-port", "0", "--nats", "nats://127.0.0.1:1"])
        .args(["--gateway-port", "0", "--storefront-port", "0"])
        .arg("--data-dir")
        .arg(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("cannot reach NATS at nats://127.0.0.1:1"),
        "{message}"
    );
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_brigade"))
        .args([
            "up",
            "--control-port",
            "0",
            "--nats",
            "http://127.0.0.1:4222",
        ])
        .args(["--gateway-port", "0", "--storefront-port", "0"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("must be `embedded` or a NATS URL"),
        "{bad:?}"
    );
}
