//! End to end: `brigade up` as real processes on loopback, then kill things.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use brigade_chassis::client::plain::PlainClient;
use brigade_chassis::discovery::api::ServiceInstances;
use http::Method;

/// A running `brigade up` on free ports with its own data directory.
struct System {
    child: Child,
    control: String,
    gateway: String,
    _data: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl System {
    async fn up() -> System {
        let data = tempfile::tempdir().unwrap();
        let (control_port, gateway_port) = (free_port(), free_port());
        let mut child = Command::new(env!("CARGO_BIN_EXE_brigade"))
            .args(["up", "--control-port", &control_port.to_string()])
            .args(["--gateway-port", &gateway_port.to_string()])
            .arg("--data-dir")
            .arg(data.path())
            .current_dir(data.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Keep the pipes drained (and show the output when a test fails).
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    eprintln!("[up] {line}");
                }
            });
        }
        let system = System {
            child,
            control: format!("http://127.0.0.1:{control_port}"),
            gateway: format!("http://127.0.0.1:{gateway_port}"),
            _data: data,
        };
        let client = PlainClient::new(Duration::from_secs(2));
        let started = Instant::now();
        loop {
            if let Ok(answer) = client
                .send(
                    Method::GET,
                    &format!("{}/api/v1/products?page_size=1", system.gateway),
                    None,
                )
                .await
            {
                if answer.status == 200 && system.catalog().await.instances.len() == 2 {
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "the system did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        system
    }

    async fn catalog(&self) -> ServiceInstances {
        PlainClient::new(Duration::from_secs(2))
            .get_json(&format!("{}/v1/registry/services/catalog", self.control))
            .await
            .unwrap_or(ServiceInstances {
                service: "catalog".into(),
                index: 0,
                instances: vec![],
            })
    }

    fn pids(instances: &ServiceInstances) -> Vec<u32> {
        instances
            .instances
            .iter()
            .filter_map(|i| i.registration.pid)
            .collect()
    }
}

impl Drop for System {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid} failed");
}

fn alive(pid: u32) -> bool {
    // A zombie has exited; only its entry remains until its parent reaps it.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.contains(") Z "))
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_keep_succeeding_when_a_catalog_instance_is_killed() {
    let system = System::up().await;
    let before = system.catalog().await;
    let victim = before.instances[0].registration.clone();
    let survivor = before.instances[1].registration.clone();
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
    let answer = client
        .send(
            Method::GET,
            &format!("{}/api/v1/products?page_size=1000", system.gateway),
            None,
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 400);
    let problem: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
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
    signal(system.child.id(), "TERM");
    let stopped_by = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = system.child.try_wait().unwrap() {
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_do_not_outlive_a_killed_brigade() {
    let mut system = System::up().await;
    let children = System::pids(&system.catalog().await);
    assert_eq!(children.len(), 2);
    signal(system.child.id(), "KILL");
    let _ = system.child.wait();
    let deadline = Instant::now() + Duration::from_secs(5);
    while children.iter().any(|pid| alive(*pid)) {
        assert!(
            Instant::now() < deadline,
            "instances outlived a killed brigade"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The gateway was its child too.
    let answer = PlainClient::new(Duration::from_millis(500))
        .send(Method::GET, &format!("{}/livez", system.gateway), None)
        .await;
    assert!(answer.is_err(), "the gateway still answers");
}
