//! End to end: `brigade up` as real processes on loopback, then kill things.

use std::process::Command;
use std::time::Duration;

use tokio::time::Instant;

use crate::support::shop::get;
use crate::support::{alive, signal, System};
use brigade_chassis::client::plain::PlainClient;
use http::Method;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_keep_succeeding_when_a_catalog_instance_is_killed() {
    let system = System::up().await;
    let before = system.catalog().await;
    let victim = before.instances[0].registration.clone();
    let survivor = before.instances[1].registration.clone();
    // Every instance also serves on a Unix socket, registered beside its address, through which
    // the gateway's calls go (`chassis::local_socket`).
    for instance in &before.instances {
        let socket = instance.registration.local_socket.as_deref();
        let socket = socket.expect("an instance registered no local socket");
        assert!(std::path::Path::new(socket).exists(), "{socket} is missing");
    }
    let client = PlainClient::new(Duration::from_secs(5));
    let url = format!("{}/api/v1/products?page_size=2", system.gateway);

    signal(victim.pid.unwrap(), "KILL");
    let until = Instant::now() + Duration::from_secs(3);
    let mut served = 0;
    while Instant::now() < until {
        let answer = client.send(Method::GET, &url, None).await.unwrap();
        assert_eq!(
            answer.status, 200,
            "a request failed after the kill: {:?}",
            answer.body
        );
        served += 1;
    }
    assert!(served > 10, "only {served} requests in 3 s");

    // The registry drops the dead instance; the survivor stays; the supervisor starts a new one.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let now = system.catalog().await;
        let ids: Vec<&str> = now
            .instances
            .iter()
            .map(|i| i.registration.instance_id.as_str())
            .collect();
        if !ids.contains(&victim.instance_id.as_str())
            && ids.contains(&survivor.instance_id.as_str())
            && ids.len() == 2
        {
            break;
        }
        assert!(Instant::now() < deadline, "registry still lists {ids:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Bad input is a problem, not an error page.
    let (status, problem) = get(&format!(
        "{}/api/v1/products?page_size=1000",
        system.gateway
    ))
    .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["type"], "urn:brigade:problem:invalid-parameter");

    // `brigade status` shows every service and instance.
    let status = Command::new(env!("CARGO_BIN_EXE_brigade"))
        .args(["status", "--control-url", &system.control])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "status failed: {text}");
    assert!(
        text.contains("gateway") && text.contains(&survivor.instance_id),
        "{text}"
    );

    // SIGTERM stops everything within 5 s and leaves no process behind.
    let mut system = system;
    let children = System::pids(&system.catalog().await);
    signal(system.running.child.id(), "TERM");
    let stopped_by = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = system.running.child.try_wait().unwrap() {
            assert!(status.success(), "brigade exited with {status}");
            break;
        }
        assert!(
            Instant::now() < stopped_by,
            "brigade did not stop within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for pid in children {
        assert!(!alive(pid), "instance {pid} outlived brigade");
    }
    // The survivor drained, and removed its socket as it left.
    let socket = survivor.local_socket.unwrap_or_default();
    assert!(
        !std::path::Path::new(&socket).exists(),
        "{socket} outlived its instance"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_do_not_outlive_a_killed_brigade() {
    let mut system = System::up().await;
    // Every instance of every service, the gateway and the storefront included.
    let children: Vec<u32> = system
        .view()
        .await
        .unwrap()
        .services
        .iter()
        .flat_map(|s| s.instances.iter().filter_map(|i| i.pid))
        .collect();
    assert_eq!(children.len(), manifest_instances(), "{children:?}");
    signal(system.running.child.id(), "KILL");
    let _ = system.running.child.wait();
    let deadline = Instant::now() + Duration::from_secs(5);
    while children.iter().any(|pid| alive(*pid)) {
        assert!(
            Instant::now() < deadline,
            "instances outlived a killed brigade"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Nothing answers on the gateway's port any more.
    let answer = PlainClient::new(Duration::from_millis(500))
        .send(Method::GET, &format!("{}/livez", system.gateway), None)
        .await;
    assert!(answer.is_err(), "the gateway still answers");
}

/// How many instances the built-in manifest (the repository's `brigade.toml`, which `brigade up`
/// runs when no manifest is given) declares: each service's `instances`, 1 when not given.
fn manifest_instances() -> usize {
    let manifest: toml::Table =
        toml::from_str(include_str!("../../../brigade.toml")).expect("brigade.toml is TOML");
    let services = manifest["service"].as_array().expect("[[service]] tables");
    services
        .iter()
        .map(|service| {
            service
                .get("instances")
                .map_or(1, |n| n.as_integer().unwrap_or(1))
        })
        .map(|n| usize::try_from(n).unwrap_or(0))
        .sum()
}
