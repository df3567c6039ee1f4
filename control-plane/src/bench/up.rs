//! `brigade bench up`: how long `brigade up` takes from launch to every instance ready, on a
//! first start (empty data directory: migrations and the sample catalog) and on a restart; how
//! much memory each idle instance keeps resident; and how long a stop takes.
//!
//! It runs this very binary's `up` as a child process on free ports with a temporary data
//! directory, and watches the control plane's `/v1/system` as `brigade status` does.

use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::output::{human_bytes, human_duration};
use crate::system::{Health, SystemView};

/// Options of `brigade bench up`.
#[derive(Debug, Clone, clap::Args)]
pub struct UpBenchArgs {
    /// Starts of each kind (first start, restart); the median is reported.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// How long the system idles before its memory is read.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub idle: Duration,
    /// The manifest to start (default: the repository's, as `brigade up` would).
    #[arg(long)]
    pub manifest: Option<std::path::PathBuf>,
}

/// A `brigade up` started by a benchmark.
pub(crate) struct Running {
    pub child: Child,
    pub control_url: String,
    pub gateway_url: String,
    pub log_path: std::path::PathBuf,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts this binary's `up` on free ports with `data_dir`, and `manifest` if given.
pub(crate) async fn launch(manifest: Option<&Path>, data_dir: &Path) -> anyhow::Result<Running> {
    let control_port = free_port()?;
    let gateway_port = free_port()?;
    // The system's output goes to a file beside its data, to be shown if it fails to start.
    std::fs::create_dir_all(data_dir)?;
    let log_path = data_dir.join("up.log");
    let log = std::fs::File::create(&log_path)?;
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(["up", "--control-port", &control_port.to_string()])
        .args(["--gateway-port", &gateway_port.to_string()])
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .kill_on_drop(true);
    if let Some(manifest) = manifest {
        command.arg("--manifest").arg(manifest);
    }
    Ok(Running {
        child: command.spawn()?,
        control_url: format!("http://127.0.0.1:{control_port}"),
        gateway_url: format!("http://127.0.0.1:{gateway_port}"),
        log_path,
    })
}

fn all_ready(view: &SystemView) -> bool {
    view.services.iter().all(|service| {
        let ready = service
            .instances
            .iter()
            .filter(|i| i.health == Health::Ready)
            .count();
        ready as u32 >= service.desired.unwrap_or(0)
    }) && view.services.iter().any(|s| !s.instances.is_empty())
}

/// Waits until every instance the manifest asks for is ready; returns the view then.
pub(crate) async fn wait_ready(
    running: &mut Running,
    limit: Duration,
) -> anyhow::Result<SystemView> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = running.child.try_wait()? {
            let log = std::fs::read_to_string(&running.log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(10).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            anyhow::bail!(
                "`brigade up` exited ({status}) before the system was ready:\n{}",
                tail.join("\n")
            );
        }
        if let Ok(view) = crate::status::fetch(&running.control_url).await {
            if all_ready(&view) {
                return Ok(view);
            }
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the system was not ready within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Sends SIGTERM to `brigade up` and waits for it to exit; returns how long that took.
pub(crate) async fn stop(mut running: Running) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let pid = running
        .child
        .id()
        .and_then(|pid| rustix::process::Pid::from_raw(pid as i32))
        .ok_or_else(|| anyhow::anyhow!("`brigade up` has already exited"))?;
    rustix::process::kill_process(pid, rustix::process::Signal::TERM)?;
    let status = tokio::time::timeout(Duration::from_secs(30), running.child.wait()).await??;
    anyhow::ensure!(status.success(), "`brigade up` stopped with {status}");
    Ok(started.elapsed())
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// Runs the benchmark and prints its figures.
pub async fn run(args: UpBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.rounds >= 1, "--rounds must be at least 1");
    let mut first_starts = Vec::new();
    let mut restarts = Vec::new();
    let mut stops = Vec::new();
    let mut idle_view = None;
    for round in 0..args.rounds {
        let data = tempfile::tempdir()?;
        for restart in [false, true] {
            let started = Instant::now();
            let mut running = launch(args.manifest.as_deref(), data.path()).await?;
            wait_ready(&mut running, Duration::from_secs(120)).await?;
            let elapsed = started.elapsed();
            if restart {
                restarts.push(elapsed);
                if round + 1 == args.rounds {
                    tokio::time::sleep(args.idle).await;
                    idle_view = Some(crate::status::fetch(&running.control_url).await?);
                }
            } else {
                first_starts.push(elapsed);
            }
            stops.push(stop(running).await?);
        }
    }

    println!(
        "brigade up: {} round(s), medians, from launch to every instance ready (as /v1/system reports)",
        args.rounds
    );
    println!(
        "  first start (empty data dir: migrations, sample catalog)  {}",
        human_duration(median(first_starts))
    );
    println!(
        "  restart (data present)                                    {}",
        human_duration(median(restarts))
    );
    println!(
        "  stop (SIGTERM to every process exited)                    {}",
        human_duration(median(stops))
    );
    if let Some(view) = idle_view {
        println!(
            "resident memory of each instance after {} idle:",
            human_duration(args.idle)
        );
        for service in &view.services {
            for instance in &service.instances {
                println!(
                    "  {:<10} {:<20} {}",
                    service.name,
                    instance.instance_id.as_deref().unwrap_or("-"),
                    instance
                        .rss_bytes
                        .map_or_else(|| "unknown".to_owned(), human_bytes)
                );
            }
        }
    }
    Ok(())
}
