//! Logs end to end: every instance's lines reach the control port through the supervisor, and
//! `brigade logs --trace` shows one checkout's lines from each service it crossed.

use std::collections::BTreeSet;
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::support::shop::{get, spans, traced_checkout};
use crate::support::System;

/// The span ids of an OTLP JSON trace.
fn span_ids(trace: &Value) -> BTreeSet<String> {
    spans(trace)
        .filter_map(|s| s["spanId"].as_str().map(str::to_owned))
        .collect()
}

fn brigade_logs(control: &str, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_brigade"))
        .arg("logs")
        .args(["--control-url", control])
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brigade_logs_shows_a_checkouts_lines_from_every_service_it_crossed() {
    // The repository's manifest as it is: the chassis logs every request it serves at info,
    // so a successful checkout leaves a line in every service it crosses.
    let system = System::up().await;
    let trace_id = "1095e1ec7ed1095e1ec7ed1095e1ec7e";
    traced_checkout(&system.gateway, "ada@example.com", "ada-logged", trace_id).await;

    let wanted: BTreeSet<&str> = [
        "gateway",
        "orders",
        "cart",
        "catalog",
        "inventory",
        "payments",
    ]
    .into();
    let started = Instant::now();
    let lines = loop {
        let output = brigade_logs(&system.control, &["--trace", trace_id, "--json"]);
        assert!(output.status.success(), "{output:?}");
        let lines: Vec<Value> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let services: BTreeSet<&str> = lines.iter().filter_map(|l| l["service"].as_str()).collect();
        if services.is_superset(&wanted) {
            break lines;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the checkout's lines never covered {wanted:?}: {lines:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    // Each line's span is a span of the exported trace: a line leads to its span.
    let started = Instant::now();
    loop {
        let spans = span_ids(
            &get(&format!("{}/v1/traces/{trace_id}", system.control))
                .await
                .1,
        );
        let missing: Vec<&Value> = lines
            .iter()
            .filter(|line| {
                line["trace_id"] != trace_id
                    || !line["span_id"]
                        .as_str()
                        .is_some_and(|id| spans.contains(id))
            })
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "lines whose span was not exported: {missing:?}; spans {spans:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // For people: one line each, prefixed by its instance.
    let output = brigade_logs(&system.control, &["gateway", "--trace", trace_id]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.lines().count() > 0 && text.lines().all(|l| l.starts_with("gateway#1 ")),
        "{text}"
    );

    let output = brigade_logs(&system.control, &["gatway"]);
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("no service `gatway`"), "{said}");
}
