//! `brigade load --find-capacity`: the highest constant rate whose run holds the thresholds.
//! Steps start at `--rate` and double while they hold; then the rate between the last that
//! held and the first that did not is bisected until the two are within 5 % of each other.
//! Between steps the system is left to drain until its services are quiet again (a step past
//! capacity leaves sagas, relayed events and retries behind it), so that one step's backlog does
//! not count against the next.

use std::sync::Arc;
use std::time::Duration;

use brigade_chassis::client::plain::PlainClient;
use serde::Serialize;

use super::cpu;
use super::mix::{Mix, Values};
use super::report::Summary;
use super::run::{Plan, Target};
use super::schedule::Schedule;
use super::target::{self, Shoppers};
use super::thresholds::{self, Thresholds};
use super::LoadArgs;

/// The bisection stops when the rates that held and failed are this close (relative).
const PRECISION: f64 = 0.05;
/// The most steps a search takes: it stops by itself.
const MAX_STEPS: usize = 16;
/// The error rate a step may have when `--max-error-rate` is not given.
const DEFAULT_ERROR_RATE: f64 = 0.001;
/// The least pause between steps.
const DRAIN: Duration = Duration::from_secs(3);
/// After it, the services are quiet when together they use less than this many cores…
const QUIET_CORES: f64 = 0.1;
/// …over this window.
const QUIET_WINDOW: Duration = Duration::from_secs(1);
/// The longest the search waits for quiet before it goes on regardless (and says so).
const MAX_SETTLE: Duration = Duration::from_secs(60);

/// One step of the search.
#[derive(Debug, Clone, Serialize)]
struct Step {
    rate: f64,
    holds: bool,
    summary: Summary,
}

/// What `--json` prints.
#[derive(Debug, Serialize)]
struct Search {
    /// The highest rate that held, if any did.
    capacity: Option<f64>,
    steps: Vec<Step>,
}

/// The next rate to try, or `None` when the search is done: doubling until a step fails, then
/// halving the gap between the highest that held (`held`, 0 if none) and the lowest that failed.
pub fn next_rate(held: f64, failed: Option<f64>, max_rate: f64) -> Option<f64> {
    match failed {
        None if held >= max_rate => None,
        None => Some((held * 2.0).min(max_rate)),
        Some(failed) if failed - held <= PRECISION * failed.max(1.0) => None,
        Some(failed) => Some(((held + failed) / 2.0).round().max(1.0)),
    }
}

/// Runs the search and prints each step and the capacity found.
pub async fn find(
    args: &LoadArgs,
    mix: Arc<Mix>,
    base: &str,
    thresholds: Thresholds,
) -> anyhow::Result<()> {
    let thresholds = checked(args, thresholds)?;
    let client = PlainClient::new(args.timeout);
    let values = target::values(&client, base).await?;
    let shoppers = if mix.shoppers > 0 {
        eprintln!(
            "brigade load: signing up {} shoppers (untimed)…",
            mix.shoppers
        );
        Some(Shoppers::sign_up(&client, base, mix.shoppers).await?)
    } else {
        None
    };
    eprintln!(
        "brigade load: finding the capacity of {mix} at {base}, steps of {}",
        humantime::format_duration(args.step_duration)
    );
    let mut search = Searcher {
        args,
        mix: &mix,
        client,
        base,
        values,
        shoppers,
        thresholds,
    };
    let steps = search.steps().await?;
    conclude(args, &mix, steps)
}

/// The thresholds a step must hold: `--max-p99` is required, the error rate defaults.
fn checked(args: &LoadArgs, mut thresholds: Thresholds) -> anyhow::Result<Thresholds> {
    anyhow::ensure!(
        thresholds.max_p99.is_some(),
        "--find-capacity needs --max-p99: the threshold a rate must hold"
    );
    anyhow::ensure!(
        args.rate >= 1.0
            && args.rate <= args.max_rate
            && args.max_rate <= super::schedule::MAX_RATE,
        "--find-capacity starts at --rate (at least 1) and stops at --max-rate (at most {})",
        super::schedule::MAX_RATE
    );
    anyhow::ensure!(
        args.step_duration >= Duration::from_secs(1)
            && args.step_duration <= Duration::from_secs(300),
        "--step-duration takes 1s to 5m"
    );
    thresholds.max_error_rate = thresholds.max_error_rate.or(Some(DEFAULT_ERROR_RATE));
    Ok(thresholds)
}

/// What the steps share.
struct Searcher<'a> {
    args: &'a LoadArgs,
    mix: &'a Arc<Mix>,
    client: PlainClient,
    base: &'a str,
    values: Values,
    shoppers: Option<Shoppers>,
    thresholds: Thresholds,
}

impl Searcher<'_> {
    /// Runs steps until [`next_rate`] says the search is done.
    async fn steps(&mut self) -> anyhow::Result<Vec<Step>> {
        let (mut held, mut failed): (f64, Option<f64>) = (0.0, None);
        let mut steps = Vec::new();
        let mut rate = self.args.rate;
        for step in 0..MAX_STEPS {
            let summary = self.step(rate, step).await?;
            let holds = thresholds::failures(&summary.thresholds).is_none();
            let per_core = summary.cpu.as_ref().map_or(String::new(), |cpu| {
                format!(
                    "  {:>6.0} requests/service-core  {:.2}ms CPU/request",
                    cpu.requests_per_service_core, cpu.cpu_ms_per_request
                )
            });
            eprintln!(
                "  {rate:>8.0} arrivals/s  sent {:>8.1} requests/s  p99 {:>8.1}ms  error rate {:.3}%{per_core}  {}",
                summary.overall.rate,
                summary.overall.latency_ms.p99,
                summary.overall.error_rate * 100.0,
                if holds { "holds" } else { "fails" }
            );
            if holds {
                held = held.max(rate);
            } else {
                failed = Some(failed.map_or(rate, |f: f64| f.min(rate)));
            }
            steps.push(Step {
                rate,
                holds,
                summary,
            });
            match next_rate(held, failed, self.args.max_rate) {
                Some(next) if next != rate => rate = next,
                _ => break,
            }
            settle(&self.args.control).await;
        }
        Ok(steps)
    }

    /// One constant-rate run at `rate`.
    async fn step(&mut self, rate: f64, index: usize) -> anyhow::Result<Summary> {
        if let Some(shoppers) = &mut self.shoppers {
            shoppers.refresh(&self.client, self.base).await?;
        }
        self.args.restock(&self.client, self.base).await?;
        let target = Arc::new(Target {
            client: self.client.clone(),
            base: self.base.to_owned(),
            values: self.values.clone(),
            tokens: self
                .shoppers
                .as_ref()
                .map(|s| s.tokens.clone())
                .unwrap_or_default(),
        });
        let plan = Plan {
            schedule: Schedule::constant(rate, self.args.step_duration, self.args.arrivals)?,
            max_in_flight: self.args.max_in_flight,
            seed: self.args.seed.wrapping_add(index as u64),
        };
        // A step runs to its end: Ctrl-C ends the whole search, as signals do by default.
        let never = tokio_util::sync::CancellationToken::new();
        Ok(super::measure(
            &plan,
            self.mix,
            target,
            self.thresholds,
            &self.args.control,
            &never,
        )
        .await)
    }
}

/// What the services' CPU over the last window says about waiting for the next step.
#[derive(Debug, PartialEq)]
enum Settling {
    Quiet,
    Busy,
    GaveUp,
}

fn settling(cores: f64, waited: Duration) -> Settling {
    if cores < QUIET_CORES {
        Settling::Quiet
    } else if waited >= MAX_SETTLE {
        Settling::GaveUp
    } else {
        Settling::Busy
    }
}

/// Waits [`DRAIN`], then until the services are quiet (or [`MAX_SETTLE`] has passed); says how
/// long it waited when that was more than the pause. Without CPU figures (the instances are not
/// on this machine), the pause alone.
async fn settle(control: &str) {
    tokio::time::sleep(DRAIN).await;
    let Ok(control) = target::loopback_base(control) else {
        return;
    };
    let mut waited = DRAIN;
    loop {
        let Ok(snapshot) = cpu::Snapshot::take(&control).await else {
            return;
        };
        tokio::time::sleep(QUIET_WINDOW).await;
        waited += QUIET_WINDOW;
        let cores = snapshot.since(0, QUIET_WINDOW).services_cores;
        match settling(cores, waited) {
            Settling::Quiet if waited > DRAIN + QUIET_WINDOW => {
                eprintln!("           (the services were busy after the step: waited {waited:?} for them to settle)");
                return;
            }
            Settling::Quiet => return,
            Settling::GaveUp => {
                eprintln!(
                    "           (the services still use {cores:.2} cores {waited:?} after the step; going on)"
                );
                return;
            }
            Settling::Busy => {}
        }
    }
}

/// Prints the capacity (or the JSON of every step), writes the report of the highest rate that
/// held, and fails when none did.
fn conclude(args: &LoadArgs, mix: &Mix, steps: Vec<Step>) -> anyhow::Result<()> {
    let best = steps
        .iter()
        .filter(|s| s.holds)
        .max_by(|a, b| a.rate.total_cmp(&b.rate))
        .cloned();
    let capacity = best.as_ref().map(|b| b.rate);
    if let (Some(path), Some(best)) = (&args.report, &best) {
        std::fs::write(path, super::html::render(&best.summary))?;
        eprintln!(
            "brigade load: report of the highest rate that held written to {}",
            path.display()
        );
    }
    let lowest_failed = steps
        .iter()
        .filter(|s| !s.holds)
        .map(|s| s.rate)
        .fold(f64::INFINITY, f64::min);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&Search { capacity, steps })?
        );
    }
    let Some(best) = best else {
        return Err(anyhow::anyhow!(
            "no rate held the thresholds, down to {lowest_failed:.0}/s"
        ));
    };
    if !args.json {
        let limits: Vec<String> = best
            .summary
            .thresholds
            .iter()
            .map(|v| format!("{} ≤ {}", v.threshold, v.limit))
            .collect();
        println!(
            "capacity: {:.0} arrivals/s ({:.1} requests/s sent) hold {} ({} mix, {} steps, {:?} \
             arrivals; p99 {:.1}ms)",
            best.rate,
            best.summary.overall.rate,
            limits.join(" and "),
            mix.name,
            humantime::format_duration(args.step_duration),
            args.arrivals,
            best.summary.overall.latency_ms.p99,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_doubles_then_bisects_to_within_five_percent() {
        // A system that holds up to 700/s, searched from 100/s.
        let capacity = 700.0;
        let (mut held, mut failed) = (0.0, None);
        let mut rate = 100.0;
        let mut tried = Vec::new();
        while tried.len() < MAX_STEPS {
            tried.push(rate);
            if rate <= capacity {
                held = f64::max(held, rate);
            } else {
                failed = Some(failed.map_or(rate, |f: f64| f.min(rate)));
            }
            match next_rate(held, failed, 20_000.0) {
                Some(next) => rate = next,
                None => break,
            }
        }
        assert_eq!(&tried[..5], &[100.0, 200.0, 400.0, 800.0, 600.0]);
        assert!(
            held <= capacity && held >= capacity * 0.95,
            "{held} after {tried:?}"
        );
        assert!(tried.len() <= 10, "{tried:?}");
    }

    #[test]
    fn the_next_step_waits_for_the_services_to_be_quiet_up_to_a_limit() {
        assert_eq!(settling(0.02, DRAIN), Settling::Quiet);
        assert_eq!(settling(0.8, DRAIN), Settling::Busy);
        assert_eq!(settling(0.8, MAX_SETTLE), Settling::GaveUp);
        assert_eq!(settling(0.02, MAX_SETTLE), Settling::Quiet);
    }

    #[test]
    fn the_search_stops_at_the_maximum_and_bisects_down_when_the_start_fails() {
        assert_eq!(next_rate(100.0, None, 150.0), Some(150.0));
        assert_eq!(next_rate(150.0, None, 150.0), None);
        assert_eq!(next_rate(0.0, Some(100.0), 1000.0), Some(50.0));
        assert_eq!(next_rate(96.0, Some(100.0), 1000.0), None);
    }
}
