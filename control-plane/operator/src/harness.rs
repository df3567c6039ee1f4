//! `brigade up` as a child process on free ports with its own data directory: how the benchmarks
//! and the end-to-end tests start a whole system, wait until it is ready, and stop it. One place,
//! so that both measure and test the same start.
//!
//! The child is a plain `std::process::Child` (not tokio's) so that its owner can also signal
//! and reap it outside an async context, e.g. in `Drop`.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::credential::{CredentialError, OperatorCredential};
use crate::status;
use crate::system::{Health, SystemView};

/// The repository's `brigade.toml`: what `brigade up` runs when given no manifest.
pub const MANIFEST: &str = include_str!("../../../brigade.toml");

/// How many of the last output lines an early exit shows.
const TAIL_LINES: usize = 10;

/// Why a system could not be started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot start `brigade up`")]
    Start(#[source] std::io::Error),
    #[error("`brigade up` exited ({status}) before the system was ready:\n{tail}")]
    Exited { status: ExitStatus, tail: String },
    #[error("the system was not ready within {0:?}")]
    NotReady(Duration),
    #[error("cannot signal or wait for `brigade up`")]
    Process(#[source] std::io::Error),
    #[error("`brigade up` did not stop within {0:?}")]
    NotStopped(Duration),
    #[error("`brigade up` stopped with {0}")]
    Failed(ExitStatus),
}

/// Where the system's output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    /// To `DATA_DIR/up.log`, shown in part if the system fails to start (benchmarks: the
    /// terminal stays theirs).
    LogFile,
    /// To this process's stderr, each line prefixed with `[up]` (tests: the test harness shows
    /// it when a test fails).
    Echo,
}

/// How to start `brigade up`; [`Up::launch`] starts it.
#[derive(Debug)]
pub struct Up {
    program: PathBuf,
    data_dir: PathBuf,
    manifest: Option<PathBuf>,
    args: Vec<OsString>,
    current_dir: Option<PathBuf>,
    output: Output,
    poll: Duration,
}

impl Up {
    /// `program up` (the `brigade` binary) with `data_dir` as its data directory.
    pub fn new(program: impl Into<PathBuf>, data_dir: impl Into<PathBuf>) -> Up {
        Up {
            program: program.into(),
            data_dir: data_dir.into(),
            manifest: None,
            args: Vec::new(),
            current_dir: None,
            output: Output::LogFile,
            poll: Duration::from_millis(100),
        }
    }

    /// Runs the manifest file at `path` instead of the one `brigade up` would find.
    pub fn manifest(mut self, path: impl Into<PathBuf>) -> Up {
        self.manifest = Some(path.into());
        self
    }

    /// Extra `brigade up` flags, e.g. `--chaos`.
    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Up {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Runs `brigade up` in `dir` (where it looks for a `brigade.toml`).
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Up {
        self.current_dir = Some(dir.into());
        self
    }

    /// Echoes the system's output to stderr instead of writing it to `DATA_DIR/up.log`.
    pub fn echo_output(mut self) -> Up {
        self.output = Output::Echo;
        self
    }

    /// How often [`Running::wait_ready`] asks; a benchmark timing the start asks often.
    pub fn poll_every(mut self, poll: Duration) -> Up {
        self.poll = poll;
        self
    }

    /// Starts `brigade up` on free ports (control, gateway and storefront).
    pub fn launch(self) -> Result<Running, Error> {
        let control_port = free_port().map_err(Error::Start)?;
        let gateway_port = free_port().map_err(Error::Start)?;
        let storefront_port = free_port().map_err(Error::Start)?;
        std::fs::create_dir_all(&self.data_dir).map_err(Error::Start)?;
        let mut command = Command::new(&self.program);
        command
            .args(["up", "--control-port", &control_port.to_string()])
            .args(["--gateway-port", &gateway_port.to_string()])
            .args(["--storefront-port", &storefront_port.to_string()])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.args)
            .stdin(Stdio::null());
        if let Some(manifest) = &self.manifest {
            command.arg("--manifest").arg(manifest);
        }
        if let Some(dir) = &self.current_dir {
            command.current_dir(dir);
        }
        let log_path = match self.output {
            Output::LogFile => {
                let path = self.data_dir.join("up.log");
                let log = std::fs::File::create(&path).map_err(Error::Start)?;
                command
                    .stdout(Stdio::from(log.try_clone().map_err(Error::Start)?))
                    .stderr(Stdio::from(log));
                Some(path)
            }
            Output::Echo => {
                command.stdout(Stdio::piped()).stderr(Stdio::piped());
                None
            }
        };
        let mut child = command.spawn().map_err(Error::Start)?;
        let printed_login = Arc::new(Mutex::new(None));
        if self.output == Output::Echo {
            echo(&mut child, printed_login.clone());
        }
        Ok(Running {
            child,
            data_dir: self.data_dir,
            printed_login,
            control_url: format!("http://127.0.0.1:{control_port}"),
            gateway_url: format!("http://127.0.0.1:{gateway_port}"),
            storefront_url: format!("http://127.0.0.1:{storefront_port}"),
            log_path,
            poll: self.poll,
        })
    }
}

/// A port nobody listens on right now, and one the kernel will not hand out by itself before
/// `brigade up` binds it. A port from `bind(0)` comes from the ephemeral range, where any
/// outgoing connection or another program's `bind(0)` (instances bind that way) may take it in
/// the moment between this check and up's bind: a test then fails on "port ... is not free".
/// Below the ephemeral range only an explicit bind takes a port, and the ports are handed out
/// in turn within this process from a start that differs per process.
pub fn free_port() -> std::io::Result<u16> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let Some((low, high)) = ports_below_ephemeral() else {
        return Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port());
    };
    let span = high - low;
    let start = std::process::id().wrapping_mul(7919) % span;
    for _ in 0..span {
        let turn = NEXT.fetch_add(1, Ordering::Relaxed);
        let Ok(port) = u16::try_from(low + (start + turn) % span) else {
            continue;
        };
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Ports from 10000 up to the start of the kernel's ephemeral range (Linux: 32768 by default),
/// when there are at least a thousand of them.
fn ports_below_ephemeral() -> Option<(u32, u32)> {
    const LOW: u32 = 10_000;
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let ephemeral_start: u32 = range.split_whitespace().next()?.parse().ok()?;
    (ephemeral_start >= LOW + 1_000).then_some((LOW, ephemeral_start))
}

/// Keeps the child's pipes drained, each line echoed to stderr: a full pipe would block it.
/// The console's login link, when printed, is kept in `login`.
fn echo(child: &mut Child, login: Arc<Mutex<Option<String>>>) {
    let pipes = [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    ];
    for pipe in pipes.into_iter().flatten() {
        // Threads, not tasks: they outlive any runtime and block only on the pipe.
        let login = login.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Some(link) = login_link_in(&line) {
                    if let Ok(mut kept) = login.lock() {
                        *kept = Some(link.to_owned());
                    }
                }
                eprintln!("[up] {line}");
            }
        });
    }
}

/// The console's login link in a line `brigade up` printed (`  console  http://…/login?t=…`).
fn login_link_in(line: &str) -> Option<&str> {
    line.split_whitespace()
        .find(|word| word.starts_with("http://") && word.contains("/login?t="))
}

/// A running `brigade up`; killed (and reaped) when dropped.
#[derive(Debug)]
pub struct Running {
    pub child: Child,
    /// Its data directory, where it keeps the operator credential.
    pub data_dir: PathBuf,
    /// The console's login link, once echoed output has shown it.
    printed_login: Arc<Mutex<Option<String>>>,
    pub control_url: String,
    pub gateway_url: String,
    /// The storefront's pages.
    pub storefront_url: String,
    log_path: Option<PathBuf>,
    poll: Duration,
}

impl Running {
    /// An operator's identity token for calling `service` directly (`Brigade-Identity`), from
    /// the control plane, proving the operator credential.
    pub async fn operator_identity(
        &self,
        service: &str,
    ) -> Result<String, crate::OperatorIdentityError> {
        let credential = self.operator_credential()?;
        crate::operator_identity(&self.control_url, &credential, service).await
    }

    /// The system as `brigade status` sees it.
    pub async fn view(&self) -> Result<SystemView, status::Error> {
        status::fetch(&self.control_url).await
    }

    /// The operator credential `brigade up` wrote (or kept) in its data directory: what the
    /// commands and calls that change the system must present.
    pub fn operator_credential(&self) -> Result<OperatorCredential, CredentialError> {
        OperatorCredential::load(&self.operator_token_file())
    }

    /// The file that holds the operator credential.
    pub fn operator_token_file(&self) -> PathBuf {
        OperatorCredential::path_in(&self.data_dir)
    }

    /// The console's login link as `brigade up` printed it: from the echoed output, or from
    /// the log file.
    pub fn printed_login_link(&self) -> Option<String> {
        if let Some(link) = self.printed_login.lock().ok().and_then(|l| l.clone()) {
            return Some(link);
        }
        let log = std::fs::read_to_string(self.log_path.as_ref()?).ok()?;
        log.lines().find_map(login_link_in).map(str::to_owned)
    }

    /// Waits until every instance the manifest asks for is ready; returns the view then.
    pub async fn wait_ready(&mut self, limit: Duration) -> Result<SystemView, Error> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().map_err(Error::Process)? {
                return Err(Error::Exited {
                    status,
                    tail: self.output_tail(),
                });
            }
            if let Ok(view) = self.view().await {
                if all_ready(&view) {
                    return Ok(view);
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::NotReady(limit));
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Sends SIGTERM to `brigade up` and waits (at most 30 s) for it to exit successfully;
    /// returns how long that took.
    pub async fn stop(&mut self) -> Result<Duration, Error> {
        const LIMIT: Duration = Duration::from_secs(30);
        let started = Instant::now();
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32)
            .ok_or_else(|| Error::Process(std::io::Error::other("no process id")))?;
        rustix::process::kill_process(pid, rustix::process::Signal::TERM)
            .map_err(|e| Error::Process(e.into()))?;
        loop {
            if let Some(status) = self.child.try_wait().map_err(Error::Process)? {
                return if status.success() {
                    Ok(started.elapsed())
                } else {
                    Err(Error::Failed(status))
                };
            }
            if started.elapsed() >= LIMIT {
                return Err(Error::NotStopped(LIMIT));
            }
            // Fine enough for a stop time measured in hundreds of milliseconds.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// The last lines of the log file, if the output went to one.
    fn output_tail(&self) -> String {
        let log = self
            .log_path
            .as_ref()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Already exited after a stop: both fail harmlessly.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every service has at least as many ready instances as the manifest asks for, and there is
/// at least one instance (an empty view is a control plane still starting).
pub fn all_ready(view: &SystemView) -> bool {
    view.services.iter().any(|s| !s.instances.is_empty())
        && view.services.iter().all(|service| {
            let ready = service
                .instances
                .iter()
                .filter(|i| i.health == Health::Ready)
                .count();
            ready as u32 >= service.desired.unwrap_or(0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::{InstanceView, ServiceView};

    fn service(desired: Option<u32>, health: &[Health]) -> ServiceView {
        ServiceView {
            name: "catalog".into(),
            desired,
            instances: health
                .iter()
                .map(|&health| InstanceView {
                    slot: None,
                    instance_id: None,
                    state: "running".into(),
                    restart_at_ms: None,
                    registered: true,
                    address: None,
                    health,
                    health_detail: None,
                    version: None,
                    pid: None,
                    started_at_ms: None,
                    uptime_ms: None,
                    restarts: 0,
                    last_exit: None,
                    rss_bytes: None,
                })
                .collect(),
        }
    }

    fn view(services: Vec<ServiceView>) -> SystemView {
        SystemView {
            control_url: String::new(),
            gateway_url: None,
            version: String::new(),
            started_at_ms: 0,
            now_ms: 0,
            services,
        }
    }

    #[test]
    fn ready_means_every_desired_instance_ready_and_at_least_one_instance() {
        assert!(!all_ready(&view(vec![])), "a control plane still starting");
        assert!(!all_ready(&view(vec![service(Some(2), &[])])));
        assert!(!all_ready(&view(vec![service(
            Some(2),
            &[Health::Ready, Health::NotReady]
        )])));
        assert!(all_ready(&view(vec![service(
            Some(2),
            &[Health::Ready, Health::Ready]
        )])));
        // A service `brigade up` did not start asks for nothing.
        assert!(all_ready(&view(vec![
            service(Some(1), &[Health::Ready]),
            service(None, &[Health::Unknown])
        ])));
    }

    #[test]
    fn the_login_link_is_found_in_the_line_that_prints_it() {
        let line = "[brigade]   console  http://127.0.0.1:7070/login?t=abc_-9";
        assert_eq!(
            login_link_in(line),
            Some("http://127.0.0.1:7070/login?t=abc_-9")
        );
        assert_eq!(login_link_in("  console  http://127.0.0.1:7070/"), None);
    }

    #[test]
    fn the_manifest_is_the_repositorys() {
        assert!(MANIFEST.contains("name = \"gateway\""), "{MANIFEST}");
    }
}
