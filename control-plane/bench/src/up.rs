//! `brigade bench up`: how long `brigade up` takes from launch to every instance ready, on a
//! first start (empty data directory: migrations and the sample catalog) and on a restart; how
//! much memory each idle instance keeps resident; and how long a stop takes.
//!
//! It runs this very binary's `up` as a child process on free ports with a temporary data
//! directory, and watches the control plane's `/v1/system` as `brigade status` does.

use std::path::Path;
use std::time::Duration;

use brigade_operator::harness::{Running, Up};
use brigade_operator::output::{human_bytes, human_duration};
use tokio::time::Instant;

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

/// How long a benchmark's system may take to become ready.
pub(crate) const READY_LIMIT: Duration = Duration::from_secs(120);

/// Starts this binary's `up` on free ports with `data_dir`, and `manifest` if given; its output
/// goes to `DATA_DIR/up.log`. It is asked for readiness often, because `brigade bench up` times it.
pub(crate) fn launch(manifest: Option<&Path>, data_dir: &Path) -> anyhow::Result<Running> {
    let mut up = Up::new(std::env::current_exe()?, data_dir).poll_every(Duration::from_millis(5));
    if let Some(manifest) = manifest {
        up = up.manifest(manifest);
    }
    Ok(up.launch()?)
}

/// Starts the repository's manifest with `extra(service)` environment in `dir`, and waits until
/// every instance is ready (stopping it if it does not get there).
pub(crate) async fn system(
    dir: &Path,
    extra: impl Fn(&str) -> Vec<(String, String)>,
) -> anyhow::Result<Running> {
    let manifest_path = dir.join("brigade.toml");
    std::fs::write(&manifest_path, manifest_with(extra))?;
    let mut running = launch(Some(&manifest_path), &dir.join("data"))?;
    if let Err(error) = running.wait_ready(READY_LIMIT).await {
        let _ = running.stop().await;
        return Err(error.into());
    }
    Ok(running)
}

/// The repository's manifest with `extra(service)` added to (or replacing in) each service's
/// environment.
fn manifest_with(extra: impl Fn(&str) -> Vec<(String, String)>) -> String {
    let mut out = String::new();
    let mut service = String::new();
    for line in brigade_operator::harness::MANIFEST.lines() {
        let replaced = line
            .split_once(" = ")
            .is_some_and(|(key, _)| extra(&service).iter().any(|(k, _)| k == key.trim()));
        if !replaced {
            out.push_str(line);
            out.push('\n');
        }
        if let Some(name) = line.strip_prefix("name = ") {
            service = name.trim_matches('"').to_owned();
        }
        if line.trim() == "[service.env]" {
            for (key, value) in extra(&service) {
                out.push_str(&format!("{key} = \"{value}\"\n"));
            }
        }
    }
    out
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
            let mut running = launch(args.manifest.as_deref(), data.path())?;
            running.wait_ready(READY_LIMIT).await?;
            let elapsed = started.elapsed();
            if restart {
                restarts.push(elapsed);
                if round + 1 == args.rounds {
                    tokio::time::sleep(args.idle).await;
                    idle_view = Some(running.view().await?);
                }
            } else {
                first_starts.push(elapsed);
            }
            stops.push(running.stop().await?);
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
