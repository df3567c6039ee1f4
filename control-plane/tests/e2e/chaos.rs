//! `brigade chaos` against real systems: request faults set on every instance and felt through
//! the gateway, kills that the supervisor repairs, pauses and resumes, clearing, and the
//! messages for bad input and for a system started without `--chaos`.

use std::time::Duration;

use tokio::time::Instant;

use crate::support::shop::{product, send};
use crate::support::System;
use brigade_chassis::client::plain::PlainClient;
use brigade_operator::system::{probe, Health, SystemView};
use http::Method;
use serde_json::Value;

/// Runs `brigade chaos ARGS` against `system`: whether it succeeded, its stdout and stderr.
async fn chaos(system: &System, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["chaos"];
    all.extend_from_slice(args);
    system.brigade(&all).await
}

/// Runs `brigade chaos ARGS` against `system`, which must accept it: its stdout.
pub(crate) async fn chaos_ok(system: &System, args: &[&str]) -> String {
    let (ok, stdout, stderr) = chaos(system, args).await;
    assert!(ok, "brigade chaos {args:?} failed: {stderr}");
    stdout
}

/// The instance in `slot`, as the control plane sees it.
fn slot<'a>(view: &'a SystemView, slot: &str) -> &'a brigade_operator::system::InstanceView {
    view.services
        .iter()
        .flat_map(|s| s.instances.iter())
        .find(|i| i.slot.as_deref() == Some(slot))
        .unwrap()
}

/// `chaos show --json`: every instance's rules, by slot.
async fn shown(system: &System) -> Value {
    serde_json::from_str(&chaos_ok(system, &["show", "--json"]).await).unwrap()
}

fn rules_of<'a>(shown: &'a Value, slot: &str) -> &'a Vec<Value> {
    shown["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["slot"] == slot)
        .unwrap()["rules"]
        .as_array()
        .unwrap()
}

async fn wait_for(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_injected_felt_and_cleared() {
    let mut system = System::up_with_args(None, &["--chaos"]).await;
    let kettle = product(&system.gateway, 0).await;
    let kettle_url = format!(
        "{}/api/v1/products/{}",
        system.gateway,
        kettle["id"].as_str().unwrap()
    );

    // Rules combine: latency on products keeps the error rule on categories.
    chaos_ok(
        &system,
        &["errors", "catalog", "100%", "--route", "/v1/categories"],
    )
    .await;
    let said = chaos_ok(
        &system,
        &["latency", "catalog", "1s", "--route", "/v1/products"],
    )
    .await;
    assert!(
        said.contains("catalog-1") && said.contains("catalog-2"),
        "{said}"
    );
    let faults = shown(&system).await;
    for slot in ["catalog-1", "catalog-2"] {
        let rules = rules_of(&faults, slot);
        assert_eq!(rules.len(), 2, "{faults}");
        assert!(rules
            .iter()
            .any(|r| r["route"] == "/v1/products" && r["latency_ms"] == 1000));
        assert!(rules
            .iter()
            .any(|r| r["route"] == "/v1/categories" && r["error_rate"] == 1.0));
    }
    let table = chaos_ok(&system, &["show"]).await;
    assert!(table.contains("/v1/products: +1s latency"), "{table}");

    // Felt through the gateway.
    let started = Instant::now();
    let (status, body) = send(Method::GET, &kettle_url, None, &[], None).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let categories = format!("{}/api/v1/categories", system.gateway);
    let (status, _) = send(Method::GET, &categories, None, &[], None).await;
    assert!(
        status >= 500,
        "categories answered {status} despite a 100% error rule"
    );

    // Cleared: no rules anywhere, and the gateway is quick again.
    chaos_ok(&system, &["clear", "catalog"]).await;
    let faults = shown(&system).await;
    assert!(rules_of(&faults, "catalog-1").is_empty(), "{faults}");
    let started = Instant::now();
    assert_eq!(send(Method::GET, &kettle_url, None, &[], None).await.0, 200);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(send(Method::GET, &categories, None, &[], None).await.0, 200);

    // A kill is a crash: the supervisor starts a new process, which becomes ready.
    let before = slot(&system.view().await.unwrap(), "orders-1").pid.unwrap();
    let said = chaos_ok(&system, &["kill", "orders", "--instance", "1"]).await;
    assert!(
        said.contains(&format!("killed orders-1 (pid {before})")),
        "{said}"
    );
    assert!(!said.contains("orders-2"), "{said}");
    wait_for(
        "orders-1 to come back",
        Duration::from_secs(30),
        async || {
            let view = system.view().await.unwrap();
            let orders = slot(&view, "orders-1");
            orders.pid.is_some_and(|p| p != before) && orders.health == Health::Ready
        },
    )
    .await;
    system.wait_all_ready(Duration::from_secs(30)).await;

    // A paused instance answers nothing; resumed, it answers again.
    let client = PlainClient::new(Duration::from_millis(500));
    let address = slot(&system.view().await.unwrap(), "catalog-2")
        .address
        .clone()
        .unwrap();
    chaos_ok(&system, &["pause", "catalog", "--instance", "catalog-2"]).await;
    assert_eq!(probe(&client, &address).await.0, Health::Unreachable);
    let faults = shown(&system).await;
    assert_eq!(
        faults["paused"],
        serde_json::json!(["catalog-2"]),
        "{faults}"
    );
    // `brigade status` and the console show it paused, not merely unreachable.
    let view = system.view().await.unwrap();
    assert_eq!(slot(&view, "catalog-2").state, "paused");
    assert_eq!(slot(&view, "catalog-1").state, "running");
    chaos_ok(&system, &["resume", "catalog"]).await;
    wait_for("catalog-2 to answer", Duration::from_secs(5), async || {
        probe(&client, &address).await.0 == Health::Ready
    })
    .await;
    assert_eq!(shown(&system).await["paused"], serde_json::json!([]));

    // `clear` also resumes paused instances.
    chaos_ok(&system, &["pause", "cart"]).await;
    let said = chaos_ok(&system, &["clear"]).await;
    assert!(said.contains("resumed cart-1"), "{said}");

    // Bad input: a clear message and a non-zero exit.
    let (ok, _, stderr) = chaos(&system, &["errors", "catalog", "130%"]).await;
    assert!(!ok);
    assert!(stderr.contains("between 0% and 100%"), "{stderr}");
    let (ok, _, stderr) = chaos(&system, &["latency", "wishlist", "1s"]).await;
    assert!(!ok);
    assert!(stderr.contains("no service `wishlist`"), "{stderr}");
    assert!(stderr.contains("catalog, users"), "{stderr}");
    let (ok, _, stderr) = chaos(&system, &["kill", "wishlist"]).await;
    assert!(!ok);
    assert!(stderr.contains("no service `wishlist`"), "{stderr}");
    let (ok, _, stderr) = chaos(&system, &["pause", "orders", "--instance", "7"]).await;
    assert!(!ok);
    assert!(stderr.contains("orders-1, orders-2"), "{stderr}");

    // The control plane's own routes answer problems.
    let (status, problem) = send(
        Method::POST,
        &format!("{}/v1/chaos/services/wishlist/kill", system.control),
        Some(&system.token()),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        problem["detail"].as_str().unwrap().contains("wishlist"),
        "{problem}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_without_chaos_says_so() {
    let system = System::up().await;
    for args in [
        &["latency", "catalog", "1s"][..],
        &["kill", "orders"][..],
        &["show"][..],
        &["clear"][..],
    ] {
        let (ok, _, stderr) = chaos(&system, args).await;
        assert!(!ok, "{args:?} succeeded");
        assert!(
            stderr.contains("not started with `brigade up --chaos`"),
            "{args:?}: {stderr}"
        );
    }
    // Nothing was killed.
    let view = system.view().await.unwrap();
    assert_eq!(slot(&view, "orders-1").restarts, 0);
}
