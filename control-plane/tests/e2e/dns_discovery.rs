//! DNS discovery as on Kubernetes, across processes: a gateway and catalog instances run with
//! `--discovery dns` and no registry; a service's name resolves, at a DNS server the test
//! controls (as a cluster's DNS serves a headless Service), to the address of each of its
//! instances, every instance on its own loopback address and the same port, as pods are.
//! Scaling is a change of the records: a new instance gets traffic once its record is served,
//! and a removed one, still running, gets none once its record is gone.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::shop::get;
use brigade_chassis::client::plain::PlainClient;
use brigade_chassis::testing::dns::FakeDns;
use http::Method;
use tokio::time::Instant;

/// The name the catalog's instances are found under.
const CATALOG: &str = "catalog.brigade.test";

/// One `brigade run SERVICE` process, killed when dropped.
struct Process {
    child: Child,
    base: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `service` listening on `ip:port`, finding the others through `dns`, every
/// instance of another service on `peers_port` (as every pod of a Service listens on the same
/// port).
fn start(
    service: &str,
    (ip, port): (Ipv4Addr, u16),
    peers_port: u16,
    dns: &FakeDns,
    dir: &Path,
) -> Process {
    let log = std::fs::File::create(dir.join(format!("{service}-{ip}.log"))).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_brigade"))
        .args(["run", service])
        .env("BRIGADE_LISTEN", format!("{ip}:{port}"))
        .env("BRIGADE_DISCOVERY", "dns")
        .env("BRIGADE_DNS_SERVER", dns.address.to_string())
        .env(
            "BRIGADE_DNS_TEMPLATE",
            format!("{{service}}.brigade.test:{peers_port}"),
        )
        .env("BRIGADE_DNS_REFRESH", "200ms")
        .env("BRIGADE_DATA_DIR", dir)
        .env("BRIGADE_PARENT_PID", std::process::id().to_string())
        .env("BRIGADE_LOG_FORMAT", "json")
        .env("BRIGADE_LOG", "warn")
        // Started by hand, without `brigade up`'s authority: a development identity, said so.
        .env("BRIGADE_IDENTITY", "dev")
        .env_remove("BRIGADE_REGISTRY_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    Process {
        child,
        base: format!("http://{ip}:{port}"),
    }
}

/// Waits until the instance answers `/readyz` with 200.
async fn wait_ready(process: &Process, dir: &Path) {
    let client = PlainClient::new(Duration::from_secs(1));
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let ready = client
            .send(Method::GET, &format!("{}/readyz", process.base), None)
            .await
            .is_ok_and(|answer| answer.status == 200);
        if ready {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{} not ready within 60 s; its log is in {}",
        process.base,
        dir.display()
    );
}

/// How many product listings the catalog instance has served, from its `/metrics`.
async fn listings_served(instance: &Process) -> u64 {
    let answer = PlainClient::new(Duration::from_secs(2))
        .send(Method::GET, &format!("{}/metrics", instance.base), None)
        .await
        .unwrap();
    String::from_utf8_lossy(&answer.body)
        .lines()
        .filter(|line| {
            line.starts_with("http_server_requests_total{")
                && line.contains("route=\"/v1/products\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Lists products through the gateway `count` times; every answer must be a 200.
async fn browse(gateway: &Process, count: usize) {
    for _ in 0..count {
        let (status, body) = get(&format!("{}/api/v1/products?page_size=1", gateway.base)).await;
        assert_eq!(status, 200, "{body}");
    }
}

/// Each catalog instance's listings so far.
async fn served(catalog: &[&Process]) -> Vec<u64> {
    let mut counts = Vec::new();
    for instance in catalog {
        counts.push(listings_served(instance).await);
    }
    counts
}

/// Browses in batches until `done` holds for the counts before and after a batch (at most
/// 30 s); returns the counts after that batch.
async fn browse_until(
    gateway: &Process,
    catalog: &[&Process],
    what: &str,
    done: impl Fn(&[u64], &[u64]) -> bool,
) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let before = served(catalog).await;
        browse(gateway, 20).await;
        let after = served(catalog).await;
        if done(&before, &after) {
            return after;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not seen within 30 s (listings per instance {after:?})"
        );
    }
}

/// A port free on each of `ips`.
fn port_free_on(ips: &[Ipv4Addr]) -> u16 {
    for _ in 0..20 {
        let port = brigade_operator::harness::free_port().unwrap();
        if ips
            .iter()
            .all(|ip| std::net::TcpListener::bind((*ip, port)).is_ok())
        {
            return port;
        }
    }
    panic!("no port free on every one of {ips:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_follow_a_service_scaled_up_and_down_through_dns() {
    let dir = tempfile::tempdir().unwrap();
    let ips = [
        Ipv4Addr::new(127, 0, 0, 2),
        Ipv4Addr::new(127, 0, 0, 3),
        Ipv4Addr::new(127, 0, 0, 4),
    ];
    let port = port_free_on(&ips);
    let dns = FakeDns::start().await;
    dns.set(CATALOG, &ips[..2]);

    let first = start("catalog", (ips[0], port), port, &dns, dir.path());
    wait_ready(&first, dir.path()).await;
    // After the first: it seeds the shared store.
    let second = start("catalog", (ips[1], port), port, &dns, dir.path());
    let gateway_port = brigade_operator::harness::free_port().unwrap();
    // The gateway finds the catalog's instances on the catalog's port, not its own.
    let gateway = start(
        "gateway",
        (Ipv4Addr::LOCALHOST, gateway_port),
        port,
        &dns,
        dir.path(),
    );
    wait_ready(&second, dir.path()).await;
    wait_ready(&gateway, dir.path()).await;

    // Two instances in DNS: both are called.
    browse_until(
        &gateway,
        &[&first, &second],
        "both instances called",
        |_, after| after.iter().all(|&n| n > 0),
    )
    .await;

    // Scaled up: a third instance starts, then its record is served; it gets its share.
    let third = start("catalog", (ips[2], port), port, &dns, dir.path());
    wait_ready(&third, dir.path()).await;
    let untouched = served(&[&third]).await[0];
    browse(&gateway, 10).await;
    assert_eq!(
        served(&[&third]).await[0],
        untouched,
        "a running instance that DNS does not name is not called"
    );
    dns.set(CATALOG, &ips);
    let catalog = [&first, &second, &third];
    browse_until(
        &gateway,
        &catalog,
        "the new instance called",
        |before, after| after[2] > before[2],
    )
    .await;

    // Scaled down: the first instance's record goes (the process still runs, as a pod does
    // while it drains). Once callers have noticed, it gets nothing; the others get it all.
    dns.set(CATALOG, &ips[1..]);
    let settled = browse_until(
        &gateway,
        &catalog,
        "the removed instance left alone",
        |before, after| after[0] == before[0],
    )
    .await;
    browse(&gateway, 40).await;
    let now = served(&catalog).await;
    assert_eq!(
        now[0], settled[0],
        "the removed instance was called: {now:?}"
    );
    assert!(
        now[1] > settled[1] && now[2] > settled[2],
        "the remaining instances share the traffic: {settled:?} then {now:?}"
    );

    // And once it is gone, nothing fails.
    drop(first);
    browse(&gateway, 20).await;
}
