//! `brigade scale` and `brigade restart` on a running system under steady traffic: orders
//! scaled 2 → 4 → 1 and every service restarted one instance at a time while shoppers browse and
//! check out, with no failed request, no lost order, new instances taking their share within
//! seconds, and clear refusals of bad input.

use std::time::Duration;

use brigade_chassis::client::plain::PlainClient;
use brigade_operator::system::{Health, SystemView};
use serde_json::Value;
use tokio::time::Instant;

use crate::support::System;

/// Browsing and checking out, checkouts frequent enough that each of four orders instances gets
/// several a second.
const MIX: &str = r#"
shoppers = 20

[[request]]
name = "browseProduct"
weight = 4
path = "/api/v1/products/{{product}}/page"

[[request]]
name = "viewCart"
weight = 1
path = "/api/v1/cart"
auth = true

[[request]]
name = "addToCart"
weight = 0
method = "PUT"
path = "/api/v1/cart/items/{{product}}"
auth = true
body = '{"quantity": 1}'

[[request]]
name = "emptyCart"
weight = 0
method = "DELETE"
path = "/api/v1/cart"
auth = true

[[request]]
name = "checkout"
weight = 2
method = "POST"
path = "/api/v1/checkout"
auth = true
before = ["emptyCart", "addToCart"]
headers = { Idempotency-Key = "{{uuid}}" }
body = '{"card_number": "4242424242424242"}'
"#;

/// Runs `brigade ARGS` against `system`: whether it succeeded, its stdout and stderr.
async fn brigade(system: &System, args: &[&str]) -> (bool, String, String) {
    system.brigade(args).await
}

async fn brigade_ok(system: &System, args: &[&str]) -> String {
    let (ok, stdout, stderr) = brigade(system, args).await;
    assert!(ok, "brigade {args:?} failed: {stderr}");
    stdout
}

/// Checkouts an instance has served, from its own `/metrics`.
async fn checkouts_served(address: &str) -> u64 {
    let Ok(answer) = PlainClient::new(Duration::from_secs(2))
        .send(
            http::Method::GET,
            &format!("http://{address}/metrics"),
            None,
        )
        .await
    else {
        return 0;
    };
    String::from_utf8_lossy(&answer.body)
        .lines()
        .filter(|l| l.starts_with("http_server_requests_total{") && l.contains("/v1/checkout"))
        .filter_map(|l| l.rsplit_once(' ')?.1.trim().parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// The ready instances of `service`, as the control plane sees them.
fn ready(view: &SystemView, service: &str) -> Vec<(String, u32)> {
    view.instances_of(service)
        .filter(|i| i.health == Health::Ready)
        .filter_map(|i| Some((i.slot.clone()?, i.pid?)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_and_rolling_restarts_fail_no_request_and_lose_no_order() {
    let mut system = System::up().await;
    let before = system.view().await.unwrap();
    let old_pids: Vec<u32> = before
        .services
        .iter()
        .flat_map(|s| s.instances.iter())
        .filter_map(|i| i.pid)
        .collect();

    // Bad input: a clear message and a non-zero exit, and nothing changes.
    let (ok, _, stderr) = brigade(&system, &["scale", "wishlist", "2"]).await;
    assert!(!ok);
    assert!(
        stderr.contains("there is no service `wishlist`") && stderr.contains("orders"),
        "{stderr}"
    );
    let (ok, _, stderr) = brigade(&system, &["scale", "orders", "33"]).await;
    assert!(!ok && stderr.contains("33"), "{stderr}");
    let (ok, _, stderr) = brigade(&system, &["scale", "orders", "two"]).await;
    assert!(!ok && stderr.contains("two"), "{stderr}");
    let (ok, _, stderr) = brigade(&system, &["restart"]).await;
    assert!(!ok && stderr.contains("--all"), "{stderr}");
    let (ok, _, stderr) = brigade(&system, &["restart", "wishlist"]).await;
    assert!(!ok && stderr.contains("no service `wishlist`"), "{stderr}");
    assert_eq!(ready(&system.view().await.unwrap(), "orders").len(), 2);

    // Steady traffic for the whole story, checkouts confirmed (stock restocked first).
    let mix = system.data.path().join("scale-mix.toml");
    std::fs::write(&mix, MIX).unwrap();
    // Long enough for every operation below; the load is ended (Ctrl-C, as a user would) a
    // few seconds after the last one, and must still report every request it sent.
    let load_duration = Duration::from_secs(150);
    let load = tokio::process::Command::new(env!("CARGO_BIN_EXE_brigade"))
        .args([
            "load",
            "--target",
            &system.gateway,
            "--control",
            &system.control,
        ])
        .args(["--mix-file", mix.to_str().unwrap(), "--restock", "1000000"])
        // Restocking sets stock as the operator.
        .arg("--operator-token-file")
        .arg(system.running.operator_token_file())
        .args(["--arrivals", "constant", "--rate", "12", "--json"])
        .args(["--duration", &format!("{}s", load_duration.as_secs())])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let load_pid = load.id().unwrap();
    let load_started = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;

    // Up: two new instances, ready when the command returns, each taking checkouts within
    // seconds.
    let said = brigade_ok(&system, &["scale", "orders", "4"]).await;
    assert!(said.contains("orders: 2 → 4 instances"), "{said}");
    let view = system.view().await.unwrap();
    let orders = ready(&view, "orders");
    assert_eq!(orders.len(), 4, "{orders:?}");
    assert_eq!(
        view.services
            .iter()
            .find(|s| s.name == "orders")
            .unwrap()
            .desired,
        Some(4)
    );
    let new_addresses: Vec<String> = view
        .instances_of("orders")
        .filter(|i| matches!(i.slot.as_deref(), Some("orders-3" | "orders-4")))
        .filter_map(|i| i.address.clone())
        .collect();
    assert_eq!(new_addresses.len(), 2);
    let scaled_at = Instant::now();
    for address in &new_addresses {
        while checkouts_served(address).await == 0 {
            assert!(
                scaled_at.elapsed() < Duration::from_secs(15),
                "the new orders instance on {address} took no checkout within 15 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    eprintln!(
        "both new orders instances took checkouts within {:?}",
        scaled_at.elapsed()
    );

    // Down to one: the first slot stays, the others drained and exited.
    let said = brigade_ok(&system, &["scale", "orders", "1"]).await;
    assert!(said.contains("orders: 4 → 1 instances"), "{said}");
    assert!(said.contains("drained and stopped"), "{said}");
    let orders = ready(&system.view().await.unwrap(), "orders");
    assert_eq!(
        orders.iter().map(|o| o.0.as_str()).collect::<Vec<_>>(),
        ["orders-1"]
    );

    // Every service, one instance at a time.
    let said = brigade_ok(&system, &["restart", "--all"]).await;
    for service in ["catalog", "orders", "gateway", "storefront"] {
        assert!(said.contains(&format!("{service}: replaced")), "{said}");
    }
    let operations_took = load_started.elapsed();
    assert!(
        operations_took < load_duration,
        "the scaling and restarts took {operations_took:?}, longer than the traffic ({load_duration:?})"
    );
    let view = system.view().await.unwrap();
    for service in &view.services {
        let ready_now = ready(&view, &service.name);
        assert_eq!(
            ready_now.len() as u32,
            service.desired.unwrap(),
            "{}: {ready_now:?}",
            service.name
        );
        for (slot, pid) in ready_now {
            assert!(!old_pids.contains(&pid), "{slot} was not restarted");
        }
    }

    // Traffic a few seconds more, through the restarted instances (40 s at the least:
    // about 130 checkouts to judge by), then Ctrl-C: the run stops sending and reports.
    let stop_at = (operations_took + Duration::from_secs(5)).max(Duration::from_secs(40));
    tokio::time::sleep_until(load_started + stop_at).await;
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &load_pid.to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());

    // Not one request failed or went unsent.
    let output = load.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("stopping: no new arrivals"), "{stderr}");
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    eprintln!("{summary:#}");
    let stopped_at = summary["stopped_at_seconds"].as_f64().unwrap();
    assert!(stopped_at < load_duration.as_secs_f64(), "{summary:#}");
    assert!(
        summary["overall"]["sent"].as_u64().unwrap() > 500,
        "{summary:#}"
    );
    assert_eq!(summary["overall"]["errors"], 0, "{summary:#}");
    assert_eq!(summary["overall"]["not_sent"], 0, "{summary:#}");

    // And no lost order, no double charge, no oversell.
    let report = crate::checkout::assert_promises_hold(&system).await;
    assert!(
        report.orders.get("CONFIRMED").copied().unwrap_or(0) > 100,
        "{report}"
    );
    system.running.stop().await.unwrap();
}
