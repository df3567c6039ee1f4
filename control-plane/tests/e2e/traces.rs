//! Traces end to end: under `brigade up` every instance exports its spans to the control port,
//! so one checkout is one trace across the gateway, orders, inventory and payments, found by
//! the control port's list and served whole, and the cart's handling of `OrderConfirmed` is a
//! trace of its own linked to it.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::support::shop::{get, items, spans, traced_checkout};
use crate::support::System;

/// The services with a span in an OTLP JSON trace.
fn services(trace: &Value) -> BTreeSet<String> {
    items(&trace["resourceSpans"])
        .filter_map(|r| {
            r["resource"]["attributes"]
                .as_array()?
                .iter()
                .find(|a| a["key"] == "service.name")?["value"]["stringValue"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

/// Whether some span of an OTLP JSON trace links to trace `id`.
fn links_to(trace: &Value, id: &str) -> bool {
    spans(trace)
        .flat_map(|s| items(&s["links"]))
        .any(|l| l["traceId"] == id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_is_one_trace_across_the_services_it_touches() {
    let system = System::up().await;

    let trace_id = "5e1ec7ed5e1ec7ed5e1ec7ed5e1ec7ed";
    let order = traced_checkout(&system.gateway, "ada@example.com", "ada-traced", trace_id).await;
    assert_eq!(order["status"], "CONFIRMED", "{order}");

    // Spans leave in batches (every few seconds): wait for the whole checkout to arrive.
    let wanted: BTreeSet<String> = ["gateway", "orders", "inventory", "payments"]
        .map(str::to_owned)
        .into();
    let url = format!("{}/v1/traces/{trace_id}", system.control);
    let started = Instant::now();
    let trace = loop {
        let (status, trace) = get(&url).await;
        if status == 200 && services(&trace).is_superset(&wanted) {
            break trace;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the checkout's trace never covered {wanted:?}: {status} {trace}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(services(&trace).is_superset(&wanted), "{trace}");

    // The list finds it by any service it touched.
    let (status, list) = get(&format!(
        "{}/v1/traces?service=payments&limit=100",
        system.control
    ))
    .await;
    assert_eq!(status, 200, "{list}");
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["trace_id"] == trace_id)
        .unwrap_or_else(|| panic!("the checkout is not listed: {list}"));
    assert_eq!(listed["root_service"], "gateway", "{listed}");
    assert_eq!(listed["root_route"], "/api/v1/checkout", "{listed}");
    assert_eq!(listed["error"], false, "{listed}");

    // The cart empties itself on OrderConfirmed, in a trace linked to the checkout's.
    let started = Instant::now();
    'found: loop {
        let (_, carts) = get(&format!(
            "{}/v1/traces?service=cart&limit=100",
            system.control
        ))
        .await;
        for summary in carts.as_array().into_iter().flatten() {
            let id = summary["trace_id"].as_str().unwrap_or_default();
            let (_, trace) = get(&format!("{}/v1/traces/{id}", system.control)).await;
            if links_to(&trace, trace_id) {
                break 'found;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no cart trace links to the checkout: {carts}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A collector that accepts connections and never answers: the worst a collector can do to an
/// exporter (a closed port refuses at once; this one holds every export until it times out).
async fn hanging_collector() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{address}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_never_answers_fails_no_checkout_and_no_request() {
    let collector = hanging_collector().await;
    // Every instance exports to the hanging collector instead of the control port.
    let manifest = brigade_operator::harness::MANIFEST.replace(
        "BRIGADE_LOG = \"info\"",
        &format!("BRIGADE_LOG = \"info\"\nOTEL_EXPORTER_OTLP_ENDPOINT = \"{collector}\""),
    );
    let system = System::up_with(Some(&manifest)).await;

    let trace_id = "dead0c011ec70dead0c011ec70dead00";
    let order = traced_checkout(&system.gateway, "ada@example.com", "ada-dead", trace_id).await;
    assert_eq!(order["status"], "CONFIRMED", "{order}");
    // More checkouts and reads at once, enough to fill export batches: each gets its answer.
    let checkouts = (0..4).map(|n| {
        let gateway = system.gateway.clone();
        async move {
            let email = format!("shopper{n}@example.com");
            let key = format!("dead-{n}");
            let trace = format!("dead0c011ec70dead0c011ec70dead{n:02}");
            traced_checkout(&gateway, &email, &key, &trace).await
        }
    });
    for order in futures_util::future::join_all(checkouts).await {
        assert_eq!(order["status"], "CONFIRMED", "{order}");
    }
    let products = format!("{}/api/v1/products?page_size=20", system.gateway);
    let reads = (0..200).map(|_| get(&products));
    for (status, body) in futures_util::future::join_all(reads).await {
        assert_eq!(status, 200, "{body}");
    }

    // The spans went to the hanging collector, not to the control port.
    let (status, trace) = get(&format!("{}/v1/traces/{trace_id}", system.control)).await;
    assert_eq!(status, 404, "{trace}");
}
