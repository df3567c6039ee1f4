//! `brigade up --colocate`: every instance in one process, calling each other in-process. The
//! system looks the same from outside — the gateway on its port, every instance registered and
//! ready, the promise checker — and a checkout goes through the gateway, the saga and the
//! events exactly as across processes.

use std::time::Duration;

use crate::support::shop::{product, Shopper};
use crate::support::System;
use brigade_chassis::client::plain::PlainClient;

/// The sum of `series`' samples (every label set) in `exposition`.
fn total(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .filter(|line| line.starts_with(series))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Every instance of `service`'s `/metrics`, one after the other.
async fn metrics_of(system: &System, service: &str) -> String {
    let client = PlainClient::new(Duration::from_secs(5));
    let mut all = String::new();
    for instance in system.instances(service).await.instances {
        let url = format!("http://{}/metrics", instance.registration.address);
        let answer = client.send(http::Method::GET, &url, None).await.unwrap();
        all.push_str(&String::from_utf8_lossy(&answer.body));
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_colocated_system_checks_out_through_the_gateway_and_every_promise_holds() {
    let system = System::up_with_args(None, &["--colocate"]).await;

    // Every instance the manifest asks for is registered and ready, all in one process that is
    // not the control plane's.
    let view = system.view().await.unwrap();
    let pids: std::collections::BTreeSet<u32> = view
        .services
        .iter()
        .flat_map(|s| s.instances.iter())
        .filter_map(|i| i.pid)
        .collect();
    assert_eq!(pids.len(), 1, "{view:?}");
    assert!(!pids.contains(&system.running.child.id()));
    assert_eq!(system.catalog().await.instances.len(), 2);

    let ada = Shopper::sign_up(&system.gateway, "ada@example.com").await;
    let kettle = product(&system.gateway, 0).await;
    // Confirmed, once for the same key.
    ada.buy_once(&kettle, 2, "ada-1").await;
    // Events still flow through the outbox and its feed: the cart hears OrderConfirmed.
    ada.empty_cart(Duration::from_secs(10)).await;

    // A declined card: cancelled, nothing kept.
    ada.buy_declined(&kettle, "ada-2").await;
    assert_eq!(
        ada.settled_orders(2, Duration::from_secs(10)).await.len(),
        2
    );

    // The calls went in-process: the gateway to orders, orders to inventory and payments.
    let gateway = metrics_of(&system, "gateway").await;
    assert!(
        total(
            &gateway,
            "http_client_in_process_attempts_total{dependency=\"orders\"}"
        ) >= 2.0,
        "{gateway}"
    );
    let orders = metrics_of(&system, "orders").await;
    for dependency in ["inventory", "payments"] {
        let series =
            format!("http_client_in_process_attempts_total{{dependency=\"{dependency}\"}}");
        assert!(total(&orders, &series) >= 2.0, "{orders}");
    }

    crate::checkout::assert_promises_hold(&system).await;
}
