//! What the end-to-end tests share: `brigade up` as a child process on free ports with its own
//! data directory, its output shown when a test fails, and helpers to signal processes.
#![allow(dead_code)]

pub mod shop;

use std::process::Command;
use std::time::Duration;

use brigade_chassis::client::plain::PlainClient;
use brigade_chassis::discovery::api::ServiceInstances;
use brigade_operator::harness::{Running, Up};
use brigade_operator::system::SystemView;

/// A running `brigade up` on free ports with its own data directory, through the harness the
/// benchmarks use too; its output is shown when a test fails.
pub struct System {
    /// Dropped first: the system is stopped before its data directory is removed.
    pub running: Running,
    pub control: String,
    pub gateway: String,
    pub data: tempfile::TempDir,
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
        let mut up = Up::new(env!("CARGO_BIN_EXE_brigade"), data.path())
            .args(extra)
            .current_dir(data.path())
            .echo_output();
        if let Some(manifest) = manifest {
            let path = data.path().join("test-manifest.toml");
            std::fs::write(&path, manifest).unwrap();
            up = up.manifest(path);
        }
        let running = up.launch().unwrap();
        let mut system = System {
            control: running.control_url.clone(),
            gateway: running.gateway_url.clone(),
            running,
            data,
        };
        system.wait_all_ready(Duration::from_secs(90)).await;
        system
    }

    /// An operator's identity token for calling `service` directly, as the header to send.
    pub async fn operator(&self, service: &str) -> (&'static str, String) {
        let token = self.running.operator_identity(service).await.unwrap();
        (brigade_chassis::identity::HEADER, token)
    }

    /// `method` `url` on an instance of `service` as the operator (the operator's identity in
    /// `Brigade-Identity`), with a JSON `body`: the instances' operator routes (request-fault
    /// rules, stock) want it.
    pub async fn as_operator(
        &self,
        service: &str,
        method: http::Method,
        url: &str,
        body: Option<String>,
    ) -> brigade_chassis::client::plain::Answer {
        let (name, token) = self.operator(service).await;
        let mut request = http::Request::builder()
            .method(method)
            .uri(url)
            .header(name, token);
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let body = body.unwrap_or_default();
        PlainClient::new(Duration::from_secs(5))
            .send_request(request.body(body.into()).unwrap())
            .await
            .unwrap()
    }

    /// Waits until every instance the manifest asks for is ready, as `brigade status` sees it.
    pub async fn wait_all_ready(&mut self, limit: Duration) {
        if let Err(error) = self.running.wait_ready(limit).await {
            panic!("the system did not become ready: {error}");
        }
    }

    pub async fn view(&self) -> Result<SystemView, brigade_operator::status::Error> {
        self.running.view().await
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

impl System {
    /// The operator credential this system's `brigade up` wrote.
    pub fn credential(&self) -> brigade_operator::credential::OperatorCredential {
        self.running.operator_credential().unwrap()
    }

    /// The operator credential's secret, for an `Authorization: Bearer` header.
    pub fn token(&self) -> String {
        self.credential().secret().to_owned()
    }

    /// Runs `brigade ARGS --control-url CONTROL` as the operator of this system (with its
    /// credential file, as a person would from the directory `brigade up` runs in).
    pub async fn brigade(&self, args: &[&str]) -> (bool, String, String) {
        let file = self.running.operator_token_file();
        let mut all = args.to_vec();
        all.extend(["--control-url", self.control.as_str()]);
        run_brigade(
            &all,
            &[("BRIGADE_OPERATOR_TOKEN_FILE", file.to_str().unwrap())],
        )
        .await
    }

    /// Runs `brigade ARGS --control-url CONTROL` with no operator credential to be found.
    pub async fn brigade_anonymous(&self, args: &[&str]) -> (bool, String, String) {
        let mut all = args.to_vec();
        all.extend(["--control-url", self.control.as_str()]);
        let nowhere = self.data.path().join("no-such-token");
        run_brigade(&all, &[("BRIGADE_DATA_DIR", nowhere.to_str().unwrap())]).await
    }
}

/// Runs `brigade ARGS`: whether it succeeded, its stdout and stderr (also shown, for a test
/// that fails).
pub async fn brigade(args: &[&str]) -> (bool, String, String) {
    run_brigade(args, &[]).await
}

/// Runs `brigade ARGS` with `env` set; the operator credential only where `env` says.
pub async fn run_brigade(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_brigade"))
        .args(args)
        .env_remove("BRIGADE_OPERATOR_TOKEN")
        .env_remove("BRIGADE_OPERATOR_TOKEN_FILE")
        .env_remove("BRIGADE_DATA_DIR")
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    eprintln!("$ brigade {}\n{stdout}{stderr}", args.join(" "));
    (output.status.success(), stdout, stderr)
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
