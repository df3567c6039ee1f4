//! The console's data end to end (the page itself in a browser is `console`): under `brigade up` the control port scrapes every instance
//! and reads the exported spans, so one checkout shows as calls and event flows on the map and
//! as traffic in the gateway's figures.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::support::shop::{get, items, traced_checkout};
use crate::support::System;

/// Whether the map has an edge `from -> to` of `kind`.
fn has_edge(map: &Value, from: &str, to: &str, kind: &str) -> bool {
    items(&map["edges"]).any(|e| e["from"] == from && e["to"] == to && e["kind"] == kind)
}

/// The service `name` in the services view.
fn service<'a>(view: &'a Value, name: &str) -> &'a Value {
    items(&view["services"])
        .find(|s| s["service"] == name)
        .unwrap_or_else(|| panic!("no {name} in {view}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_shows_on_the_map_and_in_the_gateways_rate() {
    let system = System::up_with_args(None, &["--console-scrape-interval", "500ms"]).await;

    let order = traced_checkout(
        &system.gateway,
        "grace@example.com",
        "grace-console",
        "c0501ec0c0501ec0c0501ec0c0501ec0",
    )
    .await;
    assert_eq!(order["status"], "CONFIRMED", "{order}");

    // Spans leave in batches: wait until the whole checkout and its events are on the map.
    let url = format!("{}/v1/console/map?window=5m", system.control);
    let started = Instant::now();
    let complete = |map: &Value| {
        has_edge(map, "gateway", "orders", "http")
            && has_edge(map, "orders", "inventory", "http")
            && has_edge(map, "orders", "payments", "http")
            && map["edges"]
                .as_array()
                .is_some_and(|edges| edges.iter().any(|e| e["kind"] == "event"))
    };
    let map = loop {
        let (status, map) = get(&url).await;
        assert_eq!(status, 200, "{map}");
        if complete(&map) {
            break map;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the map never showed the checkout's calls and events: {map}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let checkout = map["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["from"] == "gateway" && e["to"] == "orders")
        .unwrap();
    assert!(checkout["count"].as_u64().unwrap() >= 1, "{checkout}");
    assert!(checkout["rate"].as_f64().unwrap() > 0.0, "{checkout}");
    assert_eq!(checkout["error_ratio"], 0.0, "{checkout}");
    let nodes: Vec<&str> = map["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["service"].as_str())
        .collect();
    for wanted in [
        "gateway",
        "orders",
        "inventory",
        "payments",
        "users",
        "currency",
    ] {
        assert!(nodes.contains(&wanted), "{wanted} is a node: {nodes:?}");
    }

    // The checkout's requests were scraped from the gateway's /metrics as a rate.
    let url = format!("{}/v1/console/services", system.control);
    let started = Instant::now();
    let gateway = loop {
        let (status, view) = get(&url).await;
        assert_eq!(status, 200, "{view}");
        let gateway = service(&view, "gateway").clone();
        let busy = gateway["rate"]
            .as_array()
            .is_some_and(|rates| rates.iter().any(|r| r.as_f64().is_some_and(|r| r > 0.0)));
        if busy {
            break gateway;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the gateway's rate stayed zero: {gateway}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(
        gateway["instances_scraped"].as_u64().unwrap() >= 1,
        "{gateway}"
    );
    let columns = ["t", "rate", "error_ratio", "p50_ms", "p99_ms", "shed_rate"];
    let lengths: Vec<usize> = columns
        .iter()
        .map(|c| gateway[c].as_array().unwrap().len())
        .collect();
    assert!(lengths.iter().all(|l| *l == lengths[0]), "{gateway}");
    // Orders calls its dependencies through breakers, all closed on a healthy system.
    let (_, view) = get(&url).await;
    let orders = service(&view, "orders");
    let dependencies = orders["dependencies"].as_array().unwrap();
    assert!(
        dependencies
            .iter()
            .any(|d| d["dependency"] == "payments" && d["breaker"] == "closed"),
        "{orders}"
    );
}
