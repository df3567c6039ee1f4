//! A finished run's figures, per request type and overall: what `--json` prints, what the
//! table shows and what the HTML report plots.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::cpu::CpuUse;
use super::record::{Recorder, Tally};
use super::schedule::Schedule;
use super::thresholds::Verdict;

/// The quantiles of each percentile curve: up to 99.999 %, spaced evenly in "nines".
const CURVE_NINES: f64 = 5.0;
const CURVE_POINTS: u32 = 50;

/// What one run found.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub mix: String,
    pub target: String,
    pub schedule: Schedule,
    pub max_in_flight: usize,
    /// From the first request due to the last one answered.
    pub elapsed_seconds: f64,
    /// When the run was ended early (Ctrl-C or SIGTERM), from its start: arrivals due after
    /// that were not sent and count nowhere; the figures are those of what ran.
    pub stopped_at_seconds: Option<f64>,
    /// The shoppers the mix signed in, and how many arrivals went to one already in a flow
    /// (every shopper busy): two flows of one shopper share a cart, so one may find it emptied
    /// by the other, and those 4xx are the generator's doing, not the system's.
    pub shoppers: usize,
    pub shared_shopper_arrivals: u64,
    pub overall: KindSummary,
    pub requests: Vec<KindSummary>,
    pub timeline: Vec<SecondSummary>,
    /// Each threshold asked for, and whether it held.
    pub thresholds: Vec<Verdict>,
    /// What the services spent in CPU, when the control plane listed them.
    pub cpu: Option<CpuUse>,
}

/// One request type's figures, or all requests'.
#[derive(Debug, Clone, Serialize)]
pub struct KindSummary {
    pub name: String,
    /// Requests sent (answered, failed or timed out).
    pub sent: u64,
    /// Requests due but not sent because `--max-in-flight` were already waiting.
    pub not_sent: u64,
    /// Requests sent a second time because a kept-alive connection closed under the first
    /// before any answer (safe ones only: idempotent, or with an Idempotency-Key).
    pub resent: u64,
    /// Answers other than 2xx/3xx, timeouts and transport errors.
    pub errors: u64,
    /// (errors + not sent) / (sent + not sent).
    pub error_rate: f64,
    /// Requests sent per second of the run.
    pub rate: f64,
    /// By status code, "timeout" or "transport error".
    pub outcomes: BTreeMap<String, u64>,
    pub latency_ms: Latency,
    /// (quantile, latency in ms) pairs for the percentile plot.
    pub percentiles: Vec<(f64, f64)>,
}

/// Latencies, from each request's intended start, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    fn of(histogram: &Histogram<u64>) -> Latency {
        if histogram.is_empty() {
            return Latency::default();
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Latency {
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p99_9: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
            mean: histogram.mean() / 1000.0,
        }
    }

    /// The p99 as a duration.
    pub fn p99(&self) -> Duration {
        Duration::from_secs_f64(self.p99 / 1000.0)
    }
}

/// One second of the run, by intended start.
#[derive(Debug, Clone, Serialize)]
pub struct SecondSummary {
    pub second: u64,
    pub sent: u64,
    pub errors: u64,
    pub not_sent: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl KindSummary {
    /// The answers by status, as the tables show them: `200×95 503×2`.
    pub fn answers(&self) -> String {
        let answers: Vec<String> = self
            .outcomes
            .iter()
            .map(|(label, count)| format!("{label}×{count}"))
            .collect();
        answers.join(" ")
    }

    fn of(name: &str, tally: &Tally, elapsed: f64) -> KindSummary {
        let sent = tally.sent();
        let due = sent + tally.not_sent;
        let percentiles = if tally.latencies.is_empty() {
            Vec::new()
        } else {
            (0..=CURVE_POINTS)
                .map(|i| {
                    let nines = CURVE_NINES * f64::from(i) / f64::from(CURVE_POINTS);
                    let quantile = 1.0 - 10f64.powf(-nines);
                    let micros = tally.latencies.value_at_quantile(quantile);
                    (quantile, micros as f64 / 1000.0)
                })
                .collect()
        };
        KindSummary {
            name: name.to_owned(),
            sent,
            not_sent: tally.not_sent,
            resent: tally.resent,
            errors: tally.errors,
            error_rate: if due == 0 {
                0.0
            } else {
                (tally.errors + tally.not_sent) as f64 / due as f64
            },
            rate: if elapsed > 0.0 {
                sent as f64 / elapsed
            } else {
                0.0
            },
            outcomes: tally.outcomes.clone(),
            latency_ms: Latency::of(&tally.latencies),
            percentiles,
        }
    }
}

impl Summary {
    /// The figures of `recorder`, whose run of `schedule` took `elapsed`.
    pub fn new(
        mix: &str,
        target: &str,
        schedule: &Schedule,
        max_in_flight: usize,
        recorder: &Recorder,
        elapsed: Duration,
    ) -> Summary {
        let seconds = elapsed.as_secs_f64();
        let requests = recorder
            .names
            .iter()
            .zip(&recorder.kinds)
            .map(|(name, tally)| KindSummary::of(name, tally, seconds))
            .collect();
        let timeline = recorder
            .seconds
            .iter()
            .enumerate()
            .map(|(second, s)| {
                let ms = |micros: u64| micros as f64 / 1000.0;
                let (p50, p99, max) = if s.latencies.is_empty() {
                    (0.0, 0.0, 0.0)
                } else {
                    (
                        ms(s.latencies.value_at_quantile(0.5)),
                        ms(s.latencies.value_at_quantile(0.99)),
                        ms(s.latencies.max()),
                    )
                };
                SecondSummary {
                    second: second as u64,
                    sent: s.latencies.len(),
                    errors: s.errors,
                    not_sent: s.not_sent,
                    p50_ms: p50,
                    p99_ms: p99,
                    max_ms: max,
                }
            })
            .collect();
        Summary {
            mix: mix.to_owned(),
            target: target.to_owned(),
            schedule: schedule.clone(),
            max_in_flight,
            elapsed_seconds: seconds,
            stopped_at_seconds: None,
            shoppers: 0,
            shared_shopper_arrivals: 0,
            overall: KindSummary::of("all", &recorder.overall, seconds),
            requests,
            timeline,
            thresholds: Vec::new(),
            cpu: None,
        }
    }

    /// What the table and the HTML page say of a run ended early.
    pub fn stopped_early(&self) -> Option<String> {
        self.stopped_at_seconds.map(|at| {
            format!(
                "stopped early at {at:.1} s of {:.1} s: arrivals due after that were not sent; \
                 the figures are those of what ran",
                self.schedule.duration().as_secs_f64()
            )
        })
    }

    /// What the table and the HTML page say when arrivals had to share shoppers.
    pub fn shared_shoppers(&self) -> Option<String> {
        (self.shared_shopper_arrivals > 0).then(|| {
            format!(
                "shared shoppers: {} arrival(s) went to a shopper already in a flow (all {} were \
                 busy), whose cart the other flow may change: errors on those are the \
                 generator's, not the system's; sign in more with --shoppers",
                self.shared_shopper_arrivals, self.shoppers
            )
        })
    }

    /// Each request type's figures, then the overall ones: the rows of the tables.
    pub fn rows(&self) -> impl Iterator<Item = &KindSummary> {
        self.requests.iter().chain(std::iter::once(&self.overall))
    }

    /// The table printed at the end of a run.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<16} {:>8} {:>8} {:>8} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8}  answers",
            "request", "sent", "not sent", "rate/s", "errors", "p50", "p90", "p99", "p99.9", "max"
        );
        for kind in self.rows() {
            let l = kind.latency_ms;
            let _ = writeln!(
                out,
                "{:<16} {:>8} {:>8} {:>8.1} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8}  {}",
                kind.name,
                kind.sent,
                kind.not_sent,
                kind.rate,
                kind.errors,
                ms(l.p50),
                ms(l.p90),
                ms(l.p99),
                ms(l.p99_9),
                ms(l.max),
                kind.answers()
            );
        }
        if self.overall.resent > 0 {
            let _ = writeln!(
                out,
                "resent: {} (a kept-alive connection closed under the request before any answer; \
                 sent once more, as a browser would)",
                self.overall.resent
            );
        }
        if let Some(line) = self.stopped_early() {
            let _ = writeln!(out, "{line}");
        }
        if let Some(line) = self.shared_shoppers() {
            let _ = writeln!(out, "{line}");
        }
        if let Some(cpu) = &self.cpu {
            out.push_str(&cpu.lines());
        }
        for verdict in &self.thresholds {
            let _ = writeln!(out, "{verdict}");
        }
        out
    }
}

/// Milliseconds as the table shows them.
fn ms(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2}ms")
    } else if value < 1000.0 {
        format!("{value:.1}ms")
    } else {
        format!("{:.2}s", value / 1000.0)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::record::Outcome;
    use super::super::schedule::Arrivals;
    use super::*;

    /// A summary of a made-up run: 100 "browse" requests of 1..=100 ms, 10 "buy" of which 2
    /// answered 503 and 1 not sent.
    pub(crate) fn sample() -> Summary {
        let mut recorder = Recorder::new(vec!["browse".into(), "buy".into()]);
        for i in 1..=100u64 {
            let due = Duration::from_millis((i - 1) * 20);
            recorder.record(0, due, Duration::from_millis(i), Outcome::Status(200));
        }
        for i in 0..10u64 {
            let status = if i < 2 { 503 } else { 201 };
            let due = Duration::from_millis(i * 200);
            recorder.record(1, due, Duration::from_millis(30), Outcome::Status(status));
        }
        recorder.not_sent(1, Duration::from_millis(1999));
        let schedule =
            Schedule::constant(55.5, Duration::from_secs(2), Arrivals::Constant).unwrap();
        Summary::new(
            "test",
            "http://127.0.0.1:8080",
            &schedule,
            64,
            &recorder,
            Duration::from_secs(2),
        )
    }

    #[test]
    fn the_summary_counts_rates_and_percentiles_per_type_and_overall() {
        let summary = sample();
        let browse = &summary.requests[0];
        assert_eq!(browse.sent, 100);
        assert!((browse.rate - 50.0).abs() < 1e-9);
        assert!(
            (browse.latency_ms.p50 - 50.0).abs() < 0.1,
            "{:?}",
            browse.latency_ms
        );
        assert!((browse.latency_ms.p90 - 90.0).abs() < 0.1);
        assert!((browse.latency_ms.p99 - 99.0).abs() < 0.1);
        assert!((browse.latency_ms.max - 100.0).abs() < 0.1);
        let buy = &summary.requests[1];
        assert_eq!((buy.sent, buy.errors, buy.not_sent), (10, 2, 1));
        assert!((buy.error_rate - 3.0 / 11.0).abs() < 1e-9);
        assert_eq!(buy.outcomes["503"], 2);
        assert_eq!(buy.outcomes["201"], 8);
        assert_eq!(summary.overall.sent, 110);
        assert_eq!(summary.overall.not_sent, 1);
        assert_eq!(summary.timeline.len(), 2);
        assert_eq!(summary.timeline.iter().map(|s| s.sent).sum::<u64>(), 110);
        let curve = &summary.overall.percentiles;
        assert!(curve
            .windows(2)
            .all(|w| w[0].1 <= w[1].1 && w[0].0 < w[1].0));
    }

    #[test]
    fn the_json_has_every_figure() {
        let json = serde_json::to_value(sample()).unwrap();
        let buy = &json["requests"][1];
        assert_eq!(buy["name"], "buy");
        assert_eq!(buy["sent"], 10);
        assert_eq!(buy["not_sent"], 1);
        assert_eq!(buy["outcomes"]["503"], 2);
        for field in ["p50", "p90", "p99", "p99_9", "max", "mean"] {
            assert!(buy["latency_ms"][field].is_f64(), "{field}");
        }
        assert_eq!(json["overall"]["sent"], 110);
        assert!(json["overall"]["rate"].is_f64());
        assert_eq!(json["schedule"]["arrivals"], "constant");
        assert_eq!(json["schedule"]["stages"][1]["rate"], 55.5);
        assert_eq!(json["timeline"][0]["second"], 0);
        assert_eq!(json["max_in_flight"], 64);
    }

    #[test]
    fn the_table_has_a_row_per_type_and_one_for_all() {
        let table = sample().table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(lines[2].starts_with("buy "), "{table}");
        assert!(lines[2].contains("503×2"), "{table}");
        assert!(lines[3].starts_with("all "), "{table}");
    }

    #[test]
    fn arrivals_that_shared_a_shopper_are_told_in_the_table_and_the_json() {
        let mut summary = sample();
        summary.shoppers = 40;
        assert!(!summary.table().contains("shared shoppers"));
        summary.shared_shopper_arrivals = 12;
        let table = summary.table();
        assert!(
            table.contains("shared shoppers: 12 arrival(s)") && table.contains("all 40 were busy"),
            "{table}"
        );
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["shared_shopper_arrivals"], 12);
        assert_eq!(json["shoppers"], 40);
    }

    #[test]
    fn a_run_stopped_early_says_so_in_the_table_and_the_json() {
        let mut summary = sample();
        assert!(!summary.table().contains("stopped early"));
        assert!(serde_json::to_value(&summary).unwrap()["stopped_at_seconds"].is_null());
        summary.stopped_at_seconds = Some(1.25);
        assert!(
            summary.table().contains("stopped early at 1.2 s of 2.0 s"),
            "{}",
            summary.table()
        );
        assert_eq!(
            serde_json::to_value(&summary).unwrap()["stopped_at_seconds"],
            1.25
        );
    }

    #[test]
    fn the_cpu_figures_are_in_the_table_and_the_json() {
        let mut summary = sample();
        assert!(serde_json::to_value(&summary).unwrap()["cpu"].is_null());
        summary.cpu = Some(super::super::cpu::tests::sample());
        let table = summary.table();
        assert!(table.contains("333 requests per service-core"), "{table}");
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["cpu"]["services_cpu_seconds"], 3.0);
        assert_eq!(json["cpu"]["services"][0]["name"], "catalog");
        assert!(json["cpu"]["requests_per_service_core"].is_f64());
        assert!(json["cpu"]["cpu_ms_per_request"].is_f64());
    }
}
