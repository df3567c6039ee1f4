//! `brigade bench colocate`: the microservice tax, as Service Weaver's paper measured it. The
//! same `brigade load` mixes against `brigade up` (every instance its own process, calls over
//! HTTP) and `brigade up --colocate` (every instance in one process, calls in-process through
//! the same client policies), side by side in one run, the rounds alternating the two.
//!
//! Each measurement starts a fresh system (fresh data), prepares the mix (restock, shoppers
//! signed up: untimed), runs a short warm-up at the same rate, then the measured run; around
//! the measured run only it reads the CPU time the services' processes used
//! (`/proc/PID/stat`, user + system, every instance's pid as the control plane reports it;
//! neither the control plane nor the load generator counted). Throughput per core is the
//! answers received divided by those CPU seconds.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use brigade_operator::harness::{Running, Up};
use clap::Parser;

use crate::loadgen::{LoadArgs, Summary};
use crate::up::READY_LIMIT;

/// Options of `brigade bench colocate`.
#[derive(Debug, Clone, clap::Args)]
pub struct ColocateBenchArgs {
    /// Rounds (each measures both modes); medians are reported.
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// Arrivals per second of the boutique mix (open loop).
    #[arg(long, default_value_t = 300.0)]
    pub boutique_rate: f64,
    /// Arrivals per second of the checkout mix (open loop).
    #[arg(long, default_value_t = 50.0)]
    pub checkout_rate: f64,
    /// How long each measured run lasts.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// How long the warm-up before each measured run lasts (at the same rate; not counted).
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub warmup: Duration,
}

/// How the system runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Split,
    Colocated,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Split => "split (brigade up)",
            Mode::Colocated => "colocated (--colocate)",
        }
    }
}

/// One measured run.
#[derive(Debug, Clone, Copy)]
struct Figures {
    /// Answers per second achieved.
    rate: f64,
    /// Share of requests that failed or were not sent.
    error_rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// The services' CPU seconds during the run.
    cpu_seconds: f64,
    /// Answers per CPU second of the services.
    per_core: f64,
}

const MIXES: [&str; 2] = ["boutique", "checkout"];
const MODES: [Mode; 2] = [Mode::Split, Mode::Colocated];

/// Runs the benchmark and prints its figures.
pub async fn run(args: ColocateBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.rounds >= 1, "--rounds must be at least 1");
    let exe = std::env::current_exe()?;
    // figures[mix][mode]: one per round.
    let mut figures: Vec<Vec<Vec<Figures>>> = vec![vec![Vec::new(); MODES.len()]; MIXES.len()];
    for round in 0..args.rounds {
        for (m, mode) in MODES.iter().enumerate() {
            let dir = tempfile::tempdir()?;
            eprintln!("round {}: {}", round + 1, mode.name());
            let mut system = start(&exe, dir.path(), *mode).await?;
            for (x, mix) in MIXES.iter().enumerate() {
                let rate = match *mix {
                    "boutique" => args.boutique_rate,
                    _ => args.checkout_rate,
                };
                let measured = measure(&system, mix, rate, &args).await;
                match measured {
                    Ok(f) => figures[x][m].push(f),
                    Err(error) => {
                        let _ = system.stop().await;
                        return Err(error.context(format!("{mix} against {}", mode.name())));
                    }
                }
            }
            system.stop().await?;
        }
    }
    print!("{}", table(&figures, &args));
    Ok(())
}

/// A fresh system in `mode`, ready.
async fn start(exe: &Path, dir: &Path, mode: Mode) -> anyhow::Result<Running> {
    let mut up = Up::new(exe, dir.join("data"));
    if mode == Mode::Colocated {
        up = up.args(["--colocate"]);
    }
    let mut system = up.launch()?;
    if let Err(error) = system.wait_ready(READY_LIMIT).await {
        let _ = system.stop().await;
        return Err(error.into());
    }
    Ok(system)
}

/// One mix against `system`: prepared, warmed up, then measured with the services' CPU time.
async fn measure(
    system: &Running,
    mix: &str,
    rate: f64,
    args: &ColocateBenchArgs,
) -> anyhow::Result<Figures> {
    let credential_file = system.operator_token_file();
    let credential_file = credential_file.to_string_lossy();
    let load = |duration: Duration| {
        load_args(&[
            "--target",
            &system.gateway_url,
            "--control",
            &system.control_url,
            "--mix",
            mix,
            "--rate",
            &rate.to_string(),
            "--duration",
            &humantime::format_duration(duration).to_string(),
            "--arrivals",
            "constant",
            // Checkouts confirmed, not cancelled for want of stock, in both modes.
            "--restock",
            "1000000",
            // Restocking sets stock as the operator.
            "--operator-token-file",
            &credential_file,
        ])
    };
    if !args.warmup.is_zero() {
        load(args.warmup)?.prepare().await?.measure().await;
    }
    let prepared = load(args.duration)?.prepare().await?;
    let pids = service_pids(system).await?;
    let before = cpu_seconds(&pids);
    let summary = prepared.measure().await;
    let cpu = cpu_seconds(&pids) - before;
    Ok(figures_of(&summary, cpu))
}

fn load_args(argv: &[&str]) -> anyhow::Result<LoadArgs> {
    #[derive(Parser)]
    struct Load {
        #[command(flatten)]
        load: LoadArgs,
    }
    let argv = std::iter::once("load").chain(argv.iter().copied());
    Ok(Load::try_parse_from(argv)?.load)
}

fn figures_of(summary: &Summary, cpu_seconds: f64) -> Figures {
    let overall = &summary.overall;
    let answered = overall.sent.saturating_sub(overall.errors) as f64;
    Figures {
        rate: overall.rate,
        error_rate: overall.error_rate,
        p50_ms: overall.latency_ms.p50,
        p99_ms: overall.latency_ms.p99,
        cpu_seconds,
        per_core: if cpu_seconds > 0.0 {
            answered / cpu_seconds
        } else {
            0.0
        },
    }
}

/// Every service instance's process, as the control plane reports them (one for all when
/// colocated).
async fn service_pids(system: &Running) -> anyhow::Result<BTreeSet<u32>> {
    let view = system
        .view()
        .await
        .context("cannot read the system's status")?;
    Ok(view
        .services
        .iter()
        .flat_map(|s| s.instances.iter())
        .filter_map(|i| i.pid)
        .collect())
}

/// The CPU time (user + system) `pids` have used so far, in seconds. `/proc/PID/stat` counts
/// in USER_HZ ticks, which Linux fixes at 100 per second for user space.
fn cpu_seconds(pids: &BTreeSet<u32>) -> f64 {
    const TICKS_PER_SECOND: f64 = 100.0;
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|stat| {
            // The command name, in parentheses, may hold spaces: fields count after it.
            let (_, after) = stat.rsplit_once(')')?;
            let fields: Vec<&str> = after.split_whitespace().collect();
            // utime and stime are the 14th and 15th fields; the 3rd is the first after ')'.
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / TICKS_PER_SECOND)
        })
        .sum()
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The figures side by side, with the ratios colocated ÷ split.
fn table(figures: &[Vec<Vec<Figures>>], args: &ColocateBenchArgs) -> String {
    let mut out = format!(
        "microservice tax: the same mix against split processes and one colocated process\n\
         ({} measured per run after {} of warm-up, open loop, constant arrivals; medians of {} round(s))\n\n",
        humantime::format_duration(args.duration),
        humantime::format_duration(args.warmup),
        args.rounds
    );
    out.push_str(&format!(
        "{:<10} {:<24} {:>9} {:>7} {:>9} {:>9} {:>9} {:>11}\n",
        "mix", "mode", "answers/s", "errors", "p50 ms", "p99 ms", "cores", "answers/CPU·s"
    ));
    for (x, mix) in MIXES.iter().enumerate() {
        let mut per_mode = Vec::new();
        for (m, mode) in MODES.iter().enumerate() {
            let runs = &figures[x][m];
            let f = Figures {
                rate: median(runs.iter().map(|f| f.rate)),
                error_rate: median(runs.iter().map(|f| f.error_rate)),
                p50_ms: median(runs.iter().map(|f| f.p50_ms)),
                p99_ms: median(runs.iter().map(|f| f.p99_ms)),
                cpu_seconds: median(runs.iter().map(|f| f.cpu_seconds)),
                per_core: median(runs.iter().map(|f| f.per_core)),
            };
            let cores = f.cpu_seconds / args.duration.as_secs_f64();
            out.push_str(&format!(
                "{:<10} {:<24} {:>9.1} {:>6.2}% {:>9.2} {:>9.2} {:>9.2} {:>11.0}\n",
                mix,
                mode.name(),
                f.rate,
                f.error_rate * 100.0,
                f.p50_ms,
                f.p99_ms,
                cores,
                f.per_core
            ));
            per_mode.push(f);
        }
        let (split, colocated) = (per_mode[0], per_mode[1]);
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        out.push_str(&format!(
            "{:<10} colocated ÷ split: throughput per core ×{:.2}, p50 ×{:.2}, p99 ×{:.2}\n\n",
            mix,
            ratio(colocated.per_core, split.per_core),
            ratio(colocated.p50_ms, split.p50_ms),
            ratio(colocated.p99_ms, split.p99_ms),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_time_of_this_process_is_read() {
        let pids = BTreeSet::from([std::process::id()]);
        let before = cpu_seconds(&pids);
        let mut x = 0u64;
        let started = tokio::time::Instant::now();
        while started.elapsed() < Duration::from_millis(200) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        assert!(x != 1);
        let used = cpu_seconds(&pids) - before;
        assert!(used > 0.05, "{used}");
    }

    #[test]
    fn the_load_flags_are_those_of_brigade_load() {
        let args = load_args(&["--mix", "checkout", "--rate", "50", "--duration", "2s"]).unwrap();
        assert_eq!(args.mix, "checkout");
        assert_eq!(args.duration, Duration::from_secs(2));
    }
}
