//! One scrape round of one service: what its instances' counters grew by, summed, and what its
//! gauges read; then the figures the console shows (rates, error ratios, quantiles).
//!
//! Counters are summed across instances after each instance's own delta is taken (see
//! `scrape::Baselines`), so that one instance restarting does not make the whole service's
//! counter look reset. Gauges of per-instance state (in-flight requests) are summed; gauges of
//! state the instances share through their store (outbox pending, consumer lag, parked events)
//! are the largest any instance reports, since every instance reports the same rows.

use std::collections::BTreeMap;

use super::exposition::Sample;

/// A histogram's buckets: `(upper bound, cumulative count)`, sorted by bound, `+Inf` last.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Buckets(Vec<(f64, f64)>);

impl Buckets {
    /// Adds `count` to the bucket bounded by `le` (buckets of one name share their bounds).
    pub fn add(&mut self, le: f64, count: f64) {
        match self.0.iter_mut().find(|(bound, _)| *bound == le) {
            Some((_, total)) => *total += count,
            None => {
                let at = self.0.partition_point(|(bound, _)| *bound < le);
                self.0.insert(at, (le, count));
            }
        }
    }

    /// The `q`-quantile (0..=1), interpolated linearly within its bucket as Prometheus's
    /// `histogram_quantile` does; `None` without observations. A quantile in the `+Inf` bucket is
    /// the largest finite bound (nothing better is known).
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.0.last().map(|(_, c)| *c).filter(|c| *c > 0.0)?;
        let rank = q.clamp(0.0, 1.0) * total;
        let index = self.0.iter().position(|(_, c)| *c >= rank)?;
        let (upper, count) = self.0[index];
        let (lower, below) = if index == 0 {
            (0.0_f64.min(upper), 0.0)
        } else {
            self.0[index - 1]
        };
        if upper.is_infinite() {
            return (index > 0).then_some(lower);
        }
        let in_bucket = count - below;
        if in_bucket <= 0.0 {
            return Some(upper);
        }
        Some(lower + (upper - lower) * (rank - below) / in_bucket)
    }
}

/// A circuit breaker's state, as the chassis's gauge encodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Breaker {
    #[default]
    Closed,
    HalfOpen,
    Open,
}

impl Breaker {
    fn from_gauge(value: f64) -> Breaker {
        match value.round() as i64 {
            1 => Breaker::Open,
            2 => Breaker::HalfOpen,
            _ => Breaker::Closed,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Breaker::Closed => "closed",
            Breaker::HalfOpen => "half_open",
            Breaker::Open => "open",
        }
    }
}

/// One dependency of one service in one round.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dependency {
    pub calls: f64,
    pub failed: f64,
    pub retries: f64,
    pub rejected: f64,
    pub duration: Buckets,
    /// The worst state of any instance's breaker: open, then half-open, then closed.
    pub breaker: Breaker,
}

/// One subscription's consumer in one round.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Consumer {
    pub lag: f64,
    pub parked: f64,
    pub applied: f64,
}

/// The outbox in one round.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Outbox {
    pub pending: f64,
    pub oldest_age_seconds: f64,
}

/// One service in one round: counters' growth summed over the instances that had a baseline,
/// gauges over every instance scraped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    pub instances_scraped: usize,
    /// Instances whose counters' growth is known (scraped before, or started since).
    pub instances_counted: usize,
    pub requests: f64,
    pub errors: f64,
    pub shed: f64,
    pub duration: Buckets,
    pub in_flight: f64,
    pub dependencies: BTreeMap<String, Dependency>,
    pub outbox: Option<Outbox>,
    pub consumers: BTreeMap<String, Consumer>,
}

impl Step {
    /// Adds an instance scraped this round: `growth` is what its counters grew by (`None`
    /// when there is no baseline to tell), `gauges` what its gauges read.
    pub fn add_instance(&mut self, growth: Option<&[Sample]>, gauges: &[Sample]) {
        self.instances_scraped += 1;
        for gauge in gauges {
            self.add_gauge(gauge);
        }
        if let Some(growth) = growth {
            self.instances_counted += 1;
            for counter in growth {
                self.add_counter(counter);
            }
        }
    }

    fn add_counter(&mut self, sample: &Sample) {
        if sample.name.starts_with("http_server_") && !is_traffic(sample) {
            return;
        }
        let dependency = || sample.label("dependency").unwrap_or("unknown").to_owned();
        match sample.name.as_str() {
            "http_server_requests_total" => self.requests += sample.value,
            "http_server_errors_total" => self.errors += sample.value,
            "http_server_shed_requests_total" => self.shed += sample.value,
            "http_server_request_duration_seconds_bucket" => {
                if let Some(le) = bound(sample) {
                    self.duration.add(le, sample.value);
                }
            }
            "http_client_requests_total" => {
                let entry = self.dependencies.entry(dependency()).or_default();
                entry.calls += sample.value;
                if is_failure(sample.label("outcome").unwrap_or_default()) {
                    entry.failed += sample.value;
                }
            }
            "http_client_request_duration_seconds_bucket" => {
                if let Some(le) = bound(sample) {
                    let entry = self.dependencies.entry(dependency()).or_default();
                    entry.duration.add(le, sample.value);
                }
            }
            "http_client_retries_total" => {
                self.dependencies.entry(dependency()).or_default().retries += sample.value;
            }
            "http_client_rejected_calls_total" => {
                self.dependencies.entry(dependency()).or_default().rejected += sample.value;
            }
            "brigade_consumer_applied_events_total" => {
                self.consumer(sample).applied += sample.value;
            }
            _ => {}
        }
    }

    fn add_gauge(&mut self, sample: &Sample) {
        match sample.name.as_str() {
            "http_server_in_flight_requests" => self.in_flight += sample.value,
            "http_client_breaker_state" => {
                let dependency = sample.label("dependency").unwrap_or("unknown").to_owned();
                let entry = self.dependencies.entry(dependency).or_default();
                entry.breaker = entry.breaker.max(Breaker::from_gauge(sample.value));
            }
            "brigade_outbox_pending_events" => {
                let outbox = self.outbox.get_or_insert_with(Outbox::default);
                outbox.pending = outbox.pending.max(sample.value);
            }
            "brigade_outbox_oldest_pending_age_seconds" => {
                let outbox = self.outbox.get_or_insert_with(Outbox::default);
                outbox.oldest_age_seconds = outbox.oldest_age_seconds.max(sample.value);
            }
            "brigade_consumer_lag_events" => {
                let consumer = self.consumer(sample);
                consumer.lag = consumer.lag.max(sample.value);
            }
            "brigade_consumer_parked_events" => {
                let consumer = self.consumer(sample);
                consumer.parked = consumer.parked.max(sample.value);
            }
            _ => {}
        }
    }

    fn consumer(&mut self, sample: &Sample) -> &mut Consumer {
        let subscription = sample.label("subscription").unwrap_or("unknown").to_owned();
        self.consumers.entry(subscription).or_default()
    }

    /// Whether any growth is known this round (else rates are unknown, not zero).
    pub fn counted(&self) -> bool {
        self.instances_counted > 0
    }
}

/// Whether a counter's name says it only grows (a counter, or a histogram's parts).
pub fn is_cumulative(name: &str) -> bool {
    ["_total", "_bucket", "_count", "_sum"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

/// Whether a served request is the service's traffic: not the orchestrator's and the operator's
/// routes (health, the scrapes this very scraper makes, chaos), nor a long poll, which waits
/// for seconds by design and would make an idle service's p99 read as seconds.
fn is_traffic(sample: &Sample) -> bool {
    use brigade_chassis::routes::{EXEMPT, LONG_POLLS};
    sample
        .label("route")
        .is_none_or(|route| !EXEMPT.contains(&route) && !LONG_POLLS.contains(&route))
}

/// A bucket's upper bound.
fn bound(sample: &Sample) -> Option<f64> {
    match sample.label("le")? {
        "+Inf" => Some(f64::INFINITY),
        text => text.parse().ok(),
    }
}

/// Whether an outbound call's outcome counts as failed: a 5xx, or no answer at all
/// (`unavailable`, `timeout`, `transport`, `decode`, `request`). A 4xx is the caller's mistake.
fn is_failure(outcome: &str) -> bool {
    outcome.parse::<u16>().map_or(true, |status| status >= 500)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str, labels: &[(&str, &str)], value: f64) -> Sample {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        labels.sort();
        Sample {
            name: name.to_owned(),
            labels,
            value,
        }
    }

    fn buckets(pairs: &[(f64, f64)]) -> Buckets {
        let mut b = Buckets::default();
        for (le, c) in pairs {
            b.add(*le, *c);
        }
        b
    }

    #[test]
    fn quantiles_interpolate_within_their_bucket() {
        // 10 observations: 4 up to 1, 4 more up to 2, 2 more up to 4.
        let b = buckets(&[(1.0, 4.0), (2.0, 8.0), (4.0, 10.0), (f64::INFINITY, 10.0)]);
        // Rank 5 is the first of the 4 in (1, 2]: 1 + 1 × 1/4.
        assert_eq!(b.quantile(0.5), Some(1.25));
        // Rank 9.9 is 1.9 of the 2 in (2, 4]: 2 + 2 × 1.9/2.
        assert!((b.quantile(0.99).unwrap() - 3.9).abs() < 1e-9);
        // Within the first bucket the lower bound is 0.
        assert_eq!(b.quantile(0.2), Some(0.5));
    }

    #[test]
    fn a_quantile_in_the_infinite_bucket_is_the_largest_finite_bound() {
        let b = buckets(&[(1.0, 1.0), (2.0, 2.0), (f64::INFINITY, 10.0)]);
        assert_eq!(b.quantile(0.99), Some(2.0));
    }

    #[test]
    fn no_observations_have_no_quantile() {
        assert_eq!(Buckets::default().quantile(0.5), None);
        assert_eq!(
            buckets(&[(1.0, 0.0), (f64::INFINITY, 0.0)]).quantile(0.5),
            None
        );
    }

    #[test]
    fn buckets_of_several_series_add_up_by_bound() {
        let b = buckets(&[
            (2.0, 1.0),
            (1.0, 1.0),
            (f64::INFINITY, 2.0),
            (1.0, 2.0),
            (2.0, 3.0),
        ]);
        assert_eq!(
            b,
            Buckets(vec![(1.0, 3.0), (2.0, 4.0), (f64::INFINITY, 2.0)])
        );
    }

    #[test]
    fn instances_add_up_counters_sum_in_flight_and_take_the_worst_breaker() {
        let mut step = Step::default();
        let calls = |outcome: &str, value: f64| {
            let labels = [("dependency", "inventory"), ("outcome", outcome)];
            sample("http_client_requests_total", &labels, value)
        };
        let first = [
            sample("http_server_requests_total", &[("status", "200")], 8.0),
            sample("http_server_requests_total", &[("status", "503")], 2.0),
            sample("http_server_errors_total", &[("status", "503")], 2.0),
            calls("200", 5.0),
            calls("timeout", 1.0),
            calls("409", 1.0),
            sample(
                "http_client_retries_total",
                &[("dependency", "inventory")],
                1.0,
            ),
        ];
        // What each instance reports now: its requests in flight, its breaker, a consumer's lag.
        let gauges = |in_flight: f64, breaker: f64, lag: f64| {
            [
                sample("http_server_in_flight_requests", &[], in_flight),
                sample(
                    "http_client_breaker_state",
                    &[("dependency", "inventory")],
                    breaker,
                ),
                sample(
                    "brigade_consumer_lag_events",
                    &[("subscription", "orders.payments")],
                    lag,
                ),
            ]
        };
        step.add_instance(Some(&first), &gauges(2.0, 0.0, 3.0));
        let second = [sample(
            "http_server_requests_total",
            &[("status", "200")],
            5.0,
        )];
        step.add_instance(Some(&second), &gauges(1.0, 1.0, 4.0));
        // A third instance, new, has gauges but no known growth.
        step.add_instance(None, &[sample("http_server_in_flight_requests", &[], 1.0)]);

        assert_eq!(step.instances_scraped, 3);
        assert_eq!(step.instances_counted, 2);
        assert_eq!(step.requests, 15.0);
        assert_eq!(step.errors, 2.0);
        assert_eq!(step.in_flight, 4.0);
        let inventory = &step.dependencies["inventory"];
        assert_eq!(inventory.calls, 7.0);
        assert_eq!(inventory.failed, 1.0, "a timeout fails, a 409 does not");
        assert_eq!(inventory.retries, 1.0);
        assert_eq!(inventory.breaker, Breaker::Open);
        // Shared state is the largest report, not a sum.
        assert_eq!(step.consumers["orders.payments"].lag, 4.0);
        assert_eq!(step.outbox, None, "no outbox metrics, no outbox");
    }

    #[test]
    fn health_scrapes_and_long_polls_are_not_the_services_traffic() {
        let mut step = Step::default();
        let route = |route: &str, status: &str, value: f64| {
            sample(
                "http_server_requests_total",
                &[("route", route), ("status", status)],
                value,
            )
        };
        let growth = [
            route("/v1/products/{id}", "200", 4.0),
            route("/metrics", "200", 1.0),
            route("/readyz", "503", 1.0),
            route("/v1/events/feed", "200", 3.0),
            sample(
                "http_server_errors_total",
                &[("route", "/readyz"), ("status", "503")],
                1.0,
            ),
            sample(
                "http_server_request_duration_seconds_bucket",
                &[("route", "/v1/events/feed"), ("le", "+Inf")],
                3.0,
            ),
            sample(
                "http_server_request_duration_seconds_bucket",
                &[("route", "/v1/products/{id}"), ("le", "0.001")],
                4.0,
            ),
        ];
        step.add_instance(Some(&growth), &[]);
        assert_eq!(step.requests, 4.0, "only the product reads are traffic");
        assert_eq!(
            step.errors, 0.0,
            "a not-ready probe is no error of the service's"
        );
        assert!(
            step.duration.quantile(0.99).is_some_and(|p99| p99 <= 0.001),
            "a long poll's seconds are not the service's latency"
        );
    }

    #[test]
    fn breaker_states_read_as_the_gauge_says() {
        assert_eq!(Breaker::from_gauge(0.0).name(), "closed");
        assert_eq!(Breaker::from_gauge(1.0).name(), "open");
        assert_eq!(Breaker::from_gauge(2.0).name(), "half_open");
        assert!(Breaker::Open > Breaker::HalfOpen && Breaker::HalfOpen > Breaker::Closed);
    }
}
