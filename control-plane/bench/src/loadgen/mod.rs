//! `brigade load`: an open-loop load generator for a running system (`brigade up`), through the
//! gateway's public API on this machine.
//!
//! - [`schedule`]: when each request is due (stages, constant or Poisson arrivals);
//! - [`mix`]: what is sent (built-in mixes and TOML files), [`target`]: where, and what is
//!   prepared there before the clock starts (products, currencies, signed-in shoppers);
//! - [`run`]: the open loop itself, recording into [`record`];
//! - [`report`], [`thresholds`], [`html`]: the figures, the verdicts and the HTML page;
//! - [`capacity`]: `--find-capacity`, runs at rising rates until the thresholds break;
//! - [`cpu`]: the services' CPU per request, read from `/proc` around each run.

mod capacity;
mod cpu;
mod html;
pub mod mix;
mod record;
mod report;
mod run;
pub mod schedule;
mod target;
mod thresholds;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use brigade_chassis::client::plain::PlainClient;
use brigade_chassis::shutdown;
use tokio_util::sync::CancellationToken;

use mix::Mix;
pub(crate) use report::Summary;
use run::{Plan, Target};
use schedule::{Arrivals, Schedule, Stage};
use thresholds::Thresholds;

/// Options of `brigade load`.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// The gateway of the running system; only loopback addresses are accepted.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub target: String,
    /// A built-in mix: boutique (Online Boutique's locustfile weights), browse or checkout.
    #[arg(long, default_value = "boutique", conflicts_with = "mix_file")]
    pub mix: String,
    /// A mix of your own, in TOML (see the README's "Load" section).
    #[arg(long, value_name = "FILE")]
    pub mix_file: Option<PathBuf>,
    /// Shoppers to sign up before the clock starts, instead of the mix's own number.
    #[arg(long)]
    pub shoppers: Option<u32>,
    /// Before the clock starts (and before each --find-capacity step), set the stock of every
    /// product the mix draws from to this, through the inventory service's stock route, so that
    /// checkouts are confirmed rather than cancelled for want of stock.
    #[arg(long, value_name = "STOCK", value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub restock: Option<u64>,
    /// The control plane of the running system, where --restock finds the inventory service
    /// and the CPU figures find the instances' pids.
    #[arg(long, default_value = "http://127.0.0.1:7070")]
    pub control: String,
    /// Where --restock finds the operator credential, which it proves to the control plane
    /// for the operator's identity (stock is the operator's to set).
    #[command(flatten)]
    pub operator: brigade_operator::operator_auth::cli::OperatorToken,
    /// Arrivals per second, held for --duration; ignored with --stage. An arrival is one
    /// request, or a few when the mix sends `before` requests first (checkout).
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// How long --rate is held.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// A stage DURATION:RATE, repeatable: over DURATION the rate moves linearly from the
    /// previous stage's (0 before the first) to RATE. E.g. --stage 10s:100 --stage 30s:300
    /// --stage 10s:0 ramps up, ramps to 300, ramps down.
    #[arg(long = "stage", value_name = "DURATION:RATE")]
    pub stages: Vec<Stage>,
    /// How arrivals are spread: poisson (random, exponential gaps) or constant (even gaps).
    #[arg(long, value_enum, default_value = "poisson")]
    pub arrivals: Arrivals,
    /// Arrivals under way at once; one due beyond that is counted as not sent.
    #[arg(long, default_value_t = 1000)]
    pub max_in_flight: usize,
    /// A request without an answer after this long counts as a timeout.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Seeds the arrivals and draws, so that a run can be repeated.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Fail (exit non-zero) when the overall p99 latency is above this.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub max_p99: Option<Duration>,
    /// Fail when more than this share of requests failed or was not sent: 0.1% or 0.001.
    #[arg(long, value_parser = thresholds::parse_error_rate)]
    pub max_error_rate: Option<f64>,
    /// Print the figures as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write an HTML report (one self-contained file) here.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Find the highest rate that holds --max-p99 (and --max-error-rate, 0.1% unless given):
    /// constant-rate steps from --rate, doubling, then bisecting.
    #[arg(long)]
    pub find_capacity: bool,
    /// How long each --find-capacity step lasts.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pub step_duration: Duration,
    /// The rate --find-capacity does not go beyond.
    #[arg(long, default_value_t = 20_000.0)]
    pub max_rate: f64,
}

/// The longest a run sending shoppers' tokens may last: they expire after 15 minutes.
const MAX_SIGNED_IN_RUN: Duration = target::FRESH_FOR;
/// The most arrivals under way at once.
const MAX_IN_FLIGHT: usize = 100_000;

impl LoadArgs {
    /// Runs `brigade load`.
    pub async fn run(self) -> anyhow::Result<()> {
        let mix = Arc::new(self.mix()?);
        let base = target::loopback_base(&self.target).context("--target")?;
        anyhow::ensure!(
            (1..=MAX_IN_FLIGHT).contains(&self.max_in_flight),
            "--max-in-flight takes 1 to {MAX_IN_FLIGHT}, got {}",
            self.max_in_flight
        );
        anyhow::ensure!(
            self.timeout >= Duration::from_millis(1) && self.timeout <= Duration::from_secs(120),
            "--timeout takes 1ms to 2m"
        );
        let thresholds = Thresholds {
            max_p99: self.max_p99,
            max_error_rate: self.max_error_rate,
        };
        if self.find_capacity {
            return capacity::find(&self, mix, &base, thresholds).await;
        }
        let schedule = self.schedule()?;
        anyhow::ensure!(
            mix.shoppers == 0 || schedule.duration() <= MAX_SIGNED_IN_RUN,
            "the mix signs shoppers in, whose tokens last 15 minutes: keep a run under {}",
            humantime::format_duration(MAX_SIGNED_IN_RUN)
        );
        let client = PlainClient::new(self.timeout);
        self.restock(&client, &base).await?;
        let target = Arc::new(prepare(&client, &base, &mix).await?);
        let plan = Plan {
            schedule,
            max_in_flight: self.max_in_flight,
            seed: self.seed,
        };
        eprintln!(
            "brigade load: {mix} at {base}, {} requests expected over {} \
             (Ctrl-C ends it early with the figures so far)",
            plan.schedule.expected_count().round(),
            humantime::format_duration(plan.schedule.duration())
        );
        let stop = stop_on_signal();
        let summary = measure(&plan, &mix, target, thresholds, &self.control, &stop).await;
        self.publish(&summary)?;
        match thresholds::failures(&summary.thresholds) {
            Some(failed) => Err(anyhow::anyhow!(failed)),
            None => Ok(()),
        }
    }

    /// Everything a constant-rate or staged run does before its clock starts (restocking,
    /// signing shoppers up); [`Prepared::measure`] then runs it. For benchmarks that read the
    /// system around the timed part only.
    pub(crate) async fn prepare(&self) -> anyhow::Result<Prepared> {
        let mix = Arc::new(self.mix()?);
        let base = target::loopback_base(&self.target).context("--target")?;
        let client = PlainClient::new(self.timeout);
        self.restock(&client, &base).await?;
        let target = Arc::new(prepare(&client, &base, &mix).await?);
        Ok(Prepared {
            plan: Plan {
                schedule: self.schedule()?,
                max_in_flight: self.max_in_flight,
                seed: self.seed,
            },
            mix,
            target,
            control: self.control.clone(),
        })
    }

    fn mix(&self) -> anyhow::Result<Mix> {
        let mut mix = self.read_mix()?;
        if let Some(shoppers) = self.shoppers {
            anyhow::ensure!(
                shoppers <= mix::MAX_SHOPPERS,
                "--shoppers takes 0 to {}, got {shoppers}",
                mix::MAX_SHOPPERS
            );
            if let Some(signed_in) = mix.requests.iter().find(|r| r.auth) {
                anyhow::ensure!(
                    shoppers > 0,
                    "--shoppers 0: the mix's {:?} requests send a shopper's token",
                    signed_in.name
                );
            }
            mix.shoppers = shoppers;
        }
        Ok(mix)
    }

    fn read_mix(&self) -> anyhow::Result<Mix> {
        match &self.mix_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the mix {}", path.display()))?;
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "custom".to_owned());
                Ok(Mix::parse(&name, &path.display().to_string(), &text)?)
            }
            None => Ok(Mix::built_in(&self.mix)?),
        }
    }

    /// Restocks the catalog when `--restock` asks to.
    async fn restock(&self, client: &PlainClient, base: &str) -> anyhow::Result<()> {
        if let Some(stock) = self.restock {
            let control = target::loopback_base(&self.control).context("--control")?;
            let credential = self.operator.load()?;
            target::restock(client, base, &control, &credential, stock).await?;
        }
        Ok(())
    }

    fn schedule(&self) -> anyhow::Result<Schedule> {
        let schedule = if self.stages.is_empty() {
            Schedule::constant(self.rate, self.duration, self.arrivals)
        } else {
            Schedule::new(self.stages.clone(), self.arrivals)
        };
        Ok(schedule?)
    }

    /// Prints the summary (table or JSON) and writes the HTML report if asked.
    fn publish(&self, summary: &Summary) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(summary)?);
        } else {
            print!("{}", summary.table());
        }
        if let Some(path) = &self.report {
            std::fs::write(path, html::render(summary))
                .with_context(|| format!("cannot write the report {}", path.display()))?;
            eprintln!("brigade load: report written to {}", path.display());
        }
        Ok(())
    }
}

/// A run with everything made that it draws from, ready to start its clock.
pub(crate) struct Prepared {
    plan: Plan,
    mix: Arc<Mix>,
    target: Arc<Target>,
    /// The control plane, whose instances' CPU the run reads.
    control: String,
}

impl Prepared {
    /// Runs it and sums it up (no thresholds).
    pub(crate) async fn measure(&self) -> Summary {
        measure(
            &self.plan,
            &self.mix,
            self.target.clone(),
            Thresholds::default(),
            &self.control,
            &CancellationToken::new(),
        )
        .await
    }
}

/// A token cancelled by the first Ctrl-C or SIGTERM (the chassis's [`shutdown::signal`], as
/// services stop): the run then sends no new arrival, waits for those in flight and reports
/// what ran (a supervisor or a script may end a long run this way without losing its figures).
/// A second signal quits at once, without figures.
fn stop_on_signal() -> CancellationToken {
    let stop = CancellationToken::new();
    let cancel = stop.clone();
    tokio::spawn(async move {
        let reason = shutdown::signal(None).await;
        eprintln!(
            "brigade load: {reason}: stopping: no new arrivals; waiting for the requests in \
             flight (again to quit at once)"
        );
        cancel.cancel();
        shutdown::signal(None).await;
        eprintln!("brigade load: quit before the requests in flight ended; no figures");
        std::process::exit(130);
    });
    stop
}

/// The products, currencies and shoppers the mix draws from, made before the clock starts.
async fn prepare(client: &PlainClient, base: &str, mix: &Mix) -> anyhow::Result<Target> {
    let values = target::values(client, base).await?;
    let tokens = if mix.shoppers > 0 {
        eprintln!(
            "brigade load: signing up {} shoppers (untimed)…",
            mix.shoppers
        );
        target::Shoppers::sign_up(client, base, mix.shoppers)
            .await?
            .tokens
    } else {
        Vec::new()
    };
    Ok(Target {
        client: client.clone(),
        base: base.to_owned(),
        values,
        tokens,
    })
}

/// One run of `plan`, summed up with the thresholds' verdicts and, when the control plane at
/// `control` lists the instances, what they spent in CPU.
async fn measure(
    plan: &Plan,
    mix: &Arc<Mix>,
    target: Arc<Target>,
    thresholds: Thresholds,
    control: &str,
    stop: &CancellationToken,
) -> Summary {
    let base = target.base.clone();
    let snapshot = match target::loopback_base(control) {
        Ok(control) => cpu::Snapshot::take(&control).await,
        Err(error) => Err(format!("--control: {error}")),
    };
    if let Err(why) = &snapshot {
        eprintln!("brigade load: no CPU figures: {why}");
    }
    let ran = run::run(plan, mix.clone(), target, stop).await;
    let cpu = snapshot
        .ok()
        .map(|s| s.since(ran.recorder.overall.sent(), ran.elapsed));
    let mut summary = Summary::new(
        &mix.name,
        &base,
        &plan.schedule,
        plan.max_in_flight,
        &ran.recorder,
        ran.elapsed,
    );
    summary.stopped_at_seconds = ran.stopped_at.map(|at| at.as_secs_f64());
    summary.shoppers = ran.shoppers;
    summary.shared_shopper_arrivals = ran.shared_shoppers;
    summary.thresholds = thresholds.evaluate(&summary);
    summary.cpu = cpu;
    summary
}
