//! `brigade load` end to end: a short run of the boutique mix against `brigade up`, its report
//! checked against the gateway's own request metrics; thresholds that fail make it exit
//! non-zero; a target off this machine is refused.

use std::collections::BTreeMap;
use std::time::Duration;

use brigade_chassis::client::plain::PlainClient;
use serde_json::Value;

use crate::support::System;

/// The gateway's requests served, by (method, route, status), from its `/metrics`.
async fn served(gateway: &str) -> BTreeMap<(String, String, String), u64> {
    let text = PlainClient::new(Duration::from_secs(5))
        .send(http::Method::GET, &format!("{gateway}/metrics"), None)
        .await
        .unwrap()
        .body;
    let mut counts = BTreeMap::new();
    for line in String::from_utf8_lossy(&text).lines() {
        let Some(rest) = line.strip_prefix("http_server_requests_total{") else {
            continue;
        };
        let (labels, value) = rest.split_once("} ").unwrap();
        let label = |name: &str| {
            let start = labels.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            labels[start..start + labels[start..].find('"').unwrap()].to_owned()
        };
        counts.insert(
            (label("method"), label("route"), label("status")),
            value.trim().parse::<f64>().unwrap() as u64,
        );
    }
    counts
}

/// What the gateway served between two readings, by (method, route) and status.
fn delta(
    before: &BTreeMap<(String, String, String), u64>,
    after: &BTreeMap<(String, String, String), u64>,
) -> BTreeMap<(String, String), BTreeMap<String, u64>> {
    let mut served = BTreeMap::<(String, String), BTreeMap<String, u64>>::new();
    for ((method, route, status), count) in after {
        let grown = count
            - before
                .get(&(method.clone(), route.clone(), status.clone()))
                .unwrap_or(&0);
        if grown > 0 {
            served
                .entry((method.clone(), route.clone()))
                .or_default()
                .insert(status.clone(), grown);
        }
    }
    served
}

async fn brigade_load(args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_brigade"))
        .arg("load")
        .args(args)
        .output()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_run_reports_what_the_gateway_served() {
    let system = System::up().await;
    let before = served(&system.gateway).await;
    let report = system.data.path().join("load.html");
    let output = brigade_load(&[
        "--target",
        &system.gateway,
        "--mix",
        "boutique",
        "--shoppers",
        "3",
        "--arrivals",
        "constant",
        "--rate",
        "20",
        "--duration",
        "5s",
        "--json",
        "--report",
        report.to_str().unwrap(),
    ])
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();

    // 20/s for 5 s, evenly: 100 arrivals, none refused; each checkout empties the cart and adds
    // to it first.
    let kind = |name: &str| {
        summary["requests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == name)
            .unwrap()
            .clone()
    };
    let sent = |name: &str| kind(name)["sent"].as_u64().unwrap();
    let arrivals: u64 = [
        "index",
        "setCurrency",
        "browseProduct",
        "addToCart",
        "viewCart",
    ]
    .iter()
    .map(|n| sent(n))
    .sum();
    assert_eq!(arrivals, 100, "{summary:#}");
    assert_eq!(summary["overall"]["not_sent"], 0);
    assert_eq!(summary["overall"]["errors"], 0, "{summary:#}");
    assert_eq!(
        summary["overall"]["sent"].as_u64().unwrap(),
        arrivals + sent("emptyCart") + sent("checkout")
    );
    assert_eq!(sent("emptyCart"), sent("checkout"));

    // The gateway's counts, route by route and status by status, are the report's; the
    // products listing was also asked once before the clock started.
    let routes = [
        ("index", "GET", "/api/v1/products", 1),
        ("setCurrency", "GET", "/api/v1/convert", 0),
        ("browseProduct", "GET", "/api/v1/products/{id}/page", 0),
        ("addToCart", "PUT", "/api/v1/cart/items/{product_id}", 0),
        ("viewCart", "GET", "/api/v1/cart", 0),
        ("emptyCart", "DELETE", "/api/v1/cart", 0),
        ("checkout", "POST", "/api/v1/checkout", 0),
    ];
    // The gateway counts a request once its answer is on its way: wait until it has.
    let mut served_during = BTreeMap::new();
    for _ in 0..50 {
        served_during = delta(&before, &served(&system.gateway).await);
        let total: u64 = served_during
            .iter()
            .filter(|((_, route), _)| routes.iter().any(|r| r.2 == route))
            .flat_map(|(_, statuses)| statuses.values())
            .sum();
        // More than the run sent: the run's requests and the listing before the clock.
        if total > summary["overall"]["sent"].as_u64().unwrap() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (name, method, route, before_the_clock) in routes {
        let reported = kind(name);
        let mut expected: BTreeMap<String, u64> =
            serde_json::from_value(reported["outcomes"].clone()).unwrap();
        if before_the_clock > 0 {
            *expected.entry("200".to_owned()).or_default() += before_the_clock;
        }
        let got = served_during
            .get(&(method.to_owned(), route.to_owned()))
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            got, expected,
            "{name} ({method} {route}); gateway: {served_during:#?}"
        );
    }

    // The HTML report holds the data and the chart library.
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(page.contains("var uPlot="));
    assert!(page.contains("browseProduct"));
    assert!(page.contains("\"timeline\""));

    // A threshold the run cannot hold: the figures are printed, and the exit names it.
    let output = brigade_load(&[
        "--target",
        &system.gateway,
        "--mix",
        "browse",
        "--rate",
        "10",
        "--duration",
        "1s",
        "--max-p99",
        "1us",
        "--max-error-rate",
        "50%",
    ])
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("thresholds failed: p99 ") && stderr.contains("> 1us"),
        "{stderr}"
    );
    assert!(!stderr.contains("error rate"), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("threshold held: error rate"));
}

#[tokio::test]
async fn a_target_off_this_machine_is_refused() {
    let output = brigade_load(&["--target", "http://10.20.30.40:8080", "--duration", "1s"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("not a loopback address"), "{stderr}");
}

#[tokio::test]
async fn a_mix_file_with_a_mistake_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.toml");
    std::fs::write(
        &path,
        "[[request]]\nname = \"home\"\npath = \"/api/v1/products/{{prodct}}\"\n",
    )
    .unwrap();
    let output = brigade_load(&["--mix-file", path.to_str().unwrap()]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr
            .contains("mine.toml, line 3: request \"home\", path: unknown placeholder {{prodct}}"),
        "{stderr}"
    );
}
