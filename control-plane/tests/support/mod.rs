//! What the end-to-end tests share: `brigade up` as a child process on free ports with its own
//! data directory, its output shown when a test fails, and helpers to signal processes.
#![allow(dead_code)]

pub mod shop;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use brigade::system::{Health, SystemView};
use brigade_chassis::client::plain::PlainClient;
use brigade_chassis::discovery::api::ServiceInstances;

/// A running `brigade up` on free ports with its own data directory.
pub struct System {
    pub child: Child,
    pub control: String,
    pub gateway: String,
    pub data: tempfile::TempDir,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl System {
    /// The system of the repository's manifest.
    pub async fn up() -> System {
        System::up_with(None).await
    }

    /// The system of `manifest` (TOML text), or of the repository's manifest.
    pub async fn up_with(manifest: Option<&str>) -> System {
        System::up_with_args(manifest, &[]).await
    }

    /// The system of `manifest` with extra `brigade up` flags (e.g. `--nats URL`).
    pub async fn up_with_args(manifest: Option<&str>, extra: &[&str]) -> System {
        let data = tempfile::tempdir().unwrap();
        let (control_port, gateway_port) = (free_port(), free_port());
        let mut command = Command::new(env!("CARGO_BIN_EXE_brigade"));
        command
            .args(["up", "--control-port", &control_port.to_string()])
            .args(["--gateway-port", &gateway_port.to_string()])
            .arg("--data-dir")
            .arg(data.path())
            .args(extra)
            .current_dir(data.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(manifest) = manifest {
            let path = data.path().join("test-manifest.toml");
            std::fs::write(&path, manifest).unwrap();
            command.arg("--manifest").arg(path);
        }
        let mut child = command.spawn().unwrap();
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
            data,
        };
        system.wait_all_ready(Duration::from_secs(90)).await;
        system
    }

    /// Waits until every instance the manifest asks for is ready, as `brigade status` sees it.
    pub async fn wait_all_ready(&self, limit: Duration) {
        let started = Instant::now();
        loop {
            if let Ok(view) = self.view().await {
                if all_ready(&view) {
                    return;
                }
            }
            assert!(started.elapsed() < limit, "the system did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn view(&self) -> Result<SystemView, brigade::status::Error> {
        brigade::status::fetch(&self.control).await
    }

    /// The registry's instances of `service`.
    pub async fn instances(&self, service: &str) -> ServiceInstances {
        PlainClient::new(Duration::from_secs(2))
            .get_json(&format!("{}/v1/registry/services/{service}", self.control))
            .await
            .unwrap_or(ServiceInstances {
                service: service.into(),
                index: 0,
                instances: vec![],
            })
    }

    pub async fn catalog(&self) -> ServiceInstances {
        self.instances("catalog").await
    }

    pub fn pids(instances: &ServiceInstances) -> Vec<u32> {
        instances
            .instances
            .iter()
            .filter_map(|i| i.registration.pid)
            .collect()
    }
}

fn all_ready(view: &SystemView) -> bool {
    !view.services.is_empty()
        && view.services.iter().all(|service| {
            let ready = service
                .instances
                .iter()
                .filter(|i| i.health == Health::Ready)
                .count();
            ready as u32 >= service.desired.unwrap_or(0)
        })
}

impl Drop for System {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid} failed");
}

pub fn alive(pid: u32) -> bool {
    // A zombie has exited; only its entry remains until its parent reaps it.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.contains(") Z "))
        .unwrap_or(false)
}
