//! `brigade load --find-capacity`: the highest constant rate whose run holds the thresholds.
//! Steps start at `--rate` and double while they hold; then the rate between the last that
//! held and the first that did not is bisected until the two are within 5 % of each other.
//! Between steps the system is left a few seconds to drain, so that one step's queue does not
//! count against the next.

use std::sync::Arc;
use std::time::Duration;

use brigade_chassis::client::plain::PlainClient;
use serde::Serialize;

use super::mix::Mix;
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
/// The pause between steps.
const DRAIN: Duration = Duration::from_secs(3);

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
    mut thresholds: Thresholds,
) -> anyhow::Result<()> {
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
    let client = PlainClient::new(args.timeout);
    let values = target::values(&client, base).await?;
    let mut shoppers = if mix.shoppers > 0 {
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
    let (mut held, mut failed): (f64, Option<f64>) = (0.0, None);
    let mut best: Option<Summary> = None;
    let mut steps = Vec::new();
    let mut rate = args.rate;
    for step in 0..MAX_STEPS {
        if let Some(shoppers) = &mut shoppers {
            shoppers.refresh(&client, base).await?;
        }
        let target = Arc::new(Target {
            client: client.clone(),
            base: base.to_owned(),
            values: values.clone(),
            tokens: shoppers
                .as_ref()
                .map(|s| s.tokens.clone())
                .unwrap_or_default(),
        });
        let plan = Plan {
            schedule: Schedule::constant(rate, args.step_duration, args.arrivals)?,
            max_in_flight: args.max_in_flight,
            seed: args.seed.wrapping_add(step as u64),
        };
        let summary = super::measure(&plan, &mix, target, thresholds).await;
        let holds = thresholds::failures(&summary.thresholds).is_none();
        eprintln!(
            "  {rate:>8.0}/s  sent {:>8.1}/s  p99 {:>8.1}ms  error rate {:.3}%  {}",
            summary.overall.rate,
            summary.overall.latency_ms.p99,
            summary.overall.error_rate * 100.0,
            if holds { "holds" } else { "fails" }
        );
        if holds {
            held = held.max(rate);
            best = Some(summary.clone());
        } else {
            failed = Some(failed.map_or(rate, |f: f64| f.min(rate)));
        }
        steps.push(Step {
            rate,
            holds,
            summary,
        });
        match next_rate(held, failed, args.max_rate) {
            Some(next) if next != rate => rate = next,
            _ => break,
        }
        tokio::time::sleep(DRAIN).await;
    }
    let capacity = (held > 0.0).then_some(held);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&Search { capacity, steps })?
        );
    }
    if let (Some(path), Some(best)) = (&args.report, &best) {
        std::fs::write(path, super::html::render(best))?;
        eprintln!(
            "brigade load: report of the highest rate that held written to {}",
            path.display()
        );
    }
    let limits: Vec<String> = best
        .iter()
        .flat_map(|b| b.thresholds.iter())
        .map(|v| format!("{} ≤ {}", v.threshold, v.limit))
        .collect();
    match capacity {
        Some(capacity) => {
            if !args.json {
                println!(
                    "capacity: {capacity:.0} requests/s hold {} ({} mix, {} steps, {:?} arrivals)",
                    limits.join(" and "),
                    mix.name,
                    humantime::format_duration(args.step_duration),
                    args.arrivals
                );
            }
            Ok(())
        }
        None => Err(anyhow::anyhow!(
            "no rate held the thresholds, down to {:.0}/s",
            failed.unwrap_or(args.rate)
        )),
    }
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
    fn the_search_stops_at_the_maximum_and_bisects_down_when_the_start_fails() {
        assert_eq!(next_rate(100.0, None, 150.0), Some(150.0));
        assert_eq!(next_rate(150.0, None, 150.0), None);
        assert_eq!(next_rate(0.0, Some(100.0), 1000.0), Some(50.0));
        assert_eq!(next_rate(96.0, Some(100.0), 1000.0), None);
    }
}
