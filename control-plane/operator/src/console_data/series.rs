//! The last minutes of every service's figures: a ring of points per service (one per scrape
//! round), and what the latest round said of its dependencies, outbox and consumers.
//!
//! Caps: [`Options::points`] points per service (the window over the interval, at most
//! [`MAX_POINTS`]), at most [`MAX_SERVICES`] services (a service registered past that is not
//! recorded). With the defaults (2 s, 10 min) that is 300 points, some 20 KiB per service.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use super::step::Step;

/// The most points a service keeps, whatever the interval and window.
pub const MAX_POINTS: usize = 3_000;
/// The most services recorded.
pub const MAX_SERVICES: usize = 256;
/// The shortest and longest scrape interval accepted.
pub const MIN_INTERVAL: Duration = Duration::from_millis(200);
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);
/// How far back the series reach.
pub const WINDOW: Duration = Duration::from_secs(600);

/// How often instances are scraped and how long their figures are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    interval: Duration,
    window: Duration,
}

/// An interval outside what the console accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the console's scrape interval must be from {MIN_INTERVAL:?} to {MAX_INTERVAL:?}, not {0:?}"
)]
pub struct IntervalError(pub Duration);

impl Default for Options {
    fn default() -> Self {
        Options {
            interval: Duration::from_secs(2),
            window: WINDOW,
        }
    }
}

impl Options {
    /// Scrapes every `interval`, keeping [`WINDOW`].
    pub fn every(interval: Duration) -> Result<Options, IntervalError> {
        if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) {
            return Err(IntervalError(interval));
        }
        Ok(Options {
            interval,
            window: WINDOW,
        })
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// How many points a service keeps.
    pub fn points(&self) -> usize {
        let points = self.window.as_secs_f64() / self.interval.as_secs_f64();
        (points.ceil() as usize).clamp(1, MAX_POINTS)
    }
}

/// One point of a service's chart; `None` where nothing is known (no instance scraped, or no
/// request to take a ratio or quantile of).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Point {
    /// Unix seconds.
    pub t: f64,
    pub rate: Option<f64>,
    pub error_ratio: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub shed_rate: Option<f64>,
}

impl Point {
    /// The point of `step`, taken at `t` over the `seconds` since the previous round.
    fn of(step: &Step, t: f64, seconds: Option<f64>) -> Point {
        let Some(seconds) = seconds.filter(|s| *s > 0.0 && step.counted()) else {
            return Point {
                t,
                ..Point::default()
            };
        };
        Point {
            t,
            rate: Some(step.requests / seconds),
            error_ratio: ratio(step.errors, step.requests),
            p50_ms: step.duration.quantile(0.5).map(to_ms),
            p99_ms: step.duration.quantile(0.99).map(to_ms),
            shed_rate: Some(step.shed / seconds),
        }
    }
}

fn ratio(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| (part / whole).clamp(0.0, 1.0))
}

fn to_ms(seconds: f64) -> f64 {
    seconds * 1e3
}

/// A service's ring of points and its latest round.
#[derive(Debug, Clone, Default)]
struct ServiceSeries {
    points: VecDeque<Point>,
    latest: Step,
    /// Seconds the latest round covered.
    latest_seconds: Option<f64>,
}

#[derive(Debug, Default)]
struct Inner {
    services: BTreeMap<String, ServiceSeries>,
    /// When the previous round was taken, Unix seconds.
    last_round: Option<f64>,
}

/// Every service's recent figures. Cheap to clone (shared); the scraper writes, the API reads.
#[derive(Debug, Clone, Default)]
pub struct Series {
    options: Options,
    inner: Arc<Mutex<Inner>>,
}

impl Series {
    pub fn new(options: Options) -> Series {
        Series {
            options,
            inner: Arc::default(),
        }
    }

    pub fn options(&self) -> Options {
        self.options
    }

    /// Records a round taken at `t` (Unix seconds): a point for every service in `steps`, and
    /// an empty point for every service recorded before but absent now, so that every
    /// service's points share their times.
    pub fn record(&self, t: f64, steps: BTreeMap<String, Step>) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let seconds = inner.last_round.map(|last| t - last);
        inner.last_round = Some(t);
        let points = self.options.points();
        let absent: Vec<String> = inner
            .services
            .keys()
            .filter(|name| !steps.contains_key(*name))
            .cloned()
            .collect();
        let rounds = steps
            .into_iter()
            .chain(absent.into_iter().map(|name| (name, Step::default())));
        for (name, step) in rounds {
            if !inner.services.contains_key(&name) && inner.services.len() >= MAX_SERVICES {
                continue;
            }
            let series = inner.services.entry(name).or_default();
            series.points.push_back(Point::of(&step, t, seconds));
            while series.points.len() > points {
                series.points.pop_front();
            }
            series.latest = step;
            series.latest_seconds = seconds;
        }
    }

    /// The view of `GET /v1/console/services`: every service of `names` first (in that order,
    /// with or without figures), then any other recorded, by name; points after `since` only.
    pub fn view(&self, names: &[String], since: Option<f64>) -> ServicesView {
        let inner = self.inner.lock().ok();
        let recorded = inner.as_ref().map(|i| &i.services);
        let mut all: Vec<&str> = names.iter().map(String::as_str).collect();
        for name in recorded.into_iter().flat_map(BTreeMap::keys) {
            if !all.contains(&name.as_str()) {
                all.push(name);
            }
        }
        let services = all
            .into_iter()
            .map(|name| {
                let series = recorded.and_then(|r| r.get(name));
                ServiceView::of(name, series, since)
            })
            .collect();
        ServicesView {
            step_seconds: self.options.interval.as_secs_f64(),
            window_seconds: self.options.window.as_secs(),
            services,
        }
    }
}

/// `GET /v1/console/services`.
#[derive(Debug, Clone, Serialize)]
pub struct ServicesView {
    pub step_seconds: f64,
    pub window_seconds: u64,
    pub services: Vec<ServiceView>,
}

/// One service: its charts (a column per figure, oldest first) and its latest round.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceView {
    pub service: String,
    /// Instances scraped in the latest round.
    pub instances_scraped: usize,
    pub t: Vec<f64>,
    pub rate: Vec<Option<f64>>,
    pub error_ratio: Vec<Option<f64>>,
    pub p50_ms: Vec<Option<f64>>,
    pub p99_ms: Vec<Option<f64>>,
    pub shed_rate: Vec<Option<f64>>,
    pub in_flight: u64,
    pub dependencies: Vec<DependencyView>,
    pub outbox: Option<OutboxView>,
    pub consumers: Vec<ConsumerView>,
}

/// One dependency in the latest round.
#[derive(Debug, Clone, Serialize)]
pub struct DependencyView {
    pub dependency: String,
    /// `closed`, `open` or `half_open`: the worst of the service's instances.
    pub breaker: &'static str,
    pub rate: f64,
    /// Failed calls (5xx or no answer) over calls; 0 without calls.
    pub error_ratio: f64,
    pub p99_ms: Option<f64>,
    pub retries_rate: f64,
    pub rejected_rate: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutboxView {
    pub pending: u64,
    pub oldest_age_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConsumerView {
    pub subscription: String,
    pub lag: u64,
    pub parked: u64,
    /// Events applied per second in the latest round.
    pub applied_rate: f64,
}

impl ServiceView {
    fn of(name: &str, series: Option<&ServiceSeries>, since: Option<f64>) -> ServiceView {
        let points: Vec<&Point> = series
            .into_iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| since.is_none_or(|since| p.t > since))
            .collect();
        let column = |figure: fn(&Point) -> Option<f64>| points.iter().map(|p| figure(p)).collect();
        let latest = series.map(|s| &s.latest);
        let per_second = |count: f64| {
            series
                .and_then(|s| s.latest_seconds)
                .filter(|s| *s > 0.0)
                .map_or(0.0, |s| count / s)
        };
        ServiceView {
            service: name.to_owned(),
            instances_scraped: latest.map_or(0, |l| l.instances_scraped),
            t: points.iter().map(|p| p.t).collect(),
            rate: column(|p| p.rate),
            error_ratio: column(|p| p.error_ratio),
            p50_ms: column(|p| p.p50_ms),
            p99_ms: column(|p| p.p99_ms),
            shed_rate: column(|p| p.shed_rate),
            in_flight: latest.map_or(0, |l| whole(l.in_flight)),
            dependencies: latest
                .into_iter()
                .flat_map(|l| l.dependencies.iter())
                .map(|(name, d)| DependencyView {
                    dependency: name.clone(),
                    breaker: d.breaker.name(),
                    rate: per_second(d.calls),
                    error_ratio: ratio(d.failed, d.calls).unwrap_or(0.0),
                    p99_ms: d.duration.quantile(0.99).map(to_ms),
                    retries_rate: per_second(d.retries),
                    rejected_rate: per_second(d.rejected),
                })
                .collect(),
            outbox: latest.and_then(|l| l.outbox).map(|o| OutboxView {
                pending: whole(o.pending),
                oldest_age_seconds: o.oldest_age_seconds,
            }),
            consumers: latest
                .into_iter()
                .flat_map(|l| l.consumers.iter())
                .map(|(subscription, c)| ConsumerView {
                    subscription: subscription.clone(),
                    lag: whole(c.lag),
                    parked: whole(c.parked),
                    applied_rate: per_second(c.applied),
                })
                .collect(),
        }
    }
}

/// A gauge that counts things, as a whole number (0 for nonsense such as NaN or negatives).
fn whole(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        value.round() as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console_data::step::Step;

    fn step(requests: f64, errors: f64) -> Step {
        Step {
            instances_scraped: 1,
            instances_counted: 1,
            requests,
            errors,
            ..Step::default()
        }
    }

    fn steps(pairs: &[(&str, Step)]) -> BTreeMap<String, Step> {
        pairs
            .iter()
            .map(|(n, s)| ((*n).to_owned(), s.clone()))
            .collect()
    }

    #[test]
    fn points_are_rates_over_the_time_between_rounds() {
        let series = Series::new(Options::default());
        series.record(100.0, steps(&[("orders", step(0.0, 0.0))]));
        series.record(102.0, steps(&[("orders", step(10.0, 1.0))]));
        let view = series.view(&["orders".to_owned()], None);
        let orders = &view.services[0];
        assert_eq!(orders.t, vec![100.0, 102.0]);
        // The first round has nothing to take a rate over.
        assert_eq!(orders.rate, vec![None, Some(5.0)]);
        assert_eq!(orders.error_ratio, vec![None, Some(0.1)]);
        // No buckets, no quantiles.
        assert_eq!(orders.p50_ms, vec![None, None]);
    }

    #[test]
    fn every_named_service_appears_and_absent_ones_get_empty_points() {
        let series = Series::new(Options::default());
        series.record(
            1.0,
            steps(&[("orders", step(1.0, 0.0)), ("extra", step(1.0, 0.0))]),
        );
        series.record(3.0, steps(&[("extra", step(4.0, 0.0))]));
        let view = series.view(&["gateway".to_owned(), "orders".to_owned()], None);
        let names: Vec<&str> = view.services.iter().map(|s| s.service.as_str()).collect();
        assert_eq!(names, ["gateway", "orders", "extra"]);
        assert!(view.services[0].t.is_empty());
        assert_eq!(view.services[1].t, vec![1.0, 3.0]);
        assert_eq!(
            view.services[1].rate[1], None,
            "no instance scraped: unknown"
        );
        assert_eq!(view.services[1].instances_scraped, 0);
        assert_eq!(view.services[2].rate[1], Some(2.0));
    }

    #[test]
    fn since_keeps_only_newer_points() {
        let series = Series::new(Options::default());
        for t in [10.0, 12.0, 14.0] {
            series.record(t, steps(&[("orders", step(2.0, 0.0))]));
        }
        let view = series.view(&[], Some(12.0));
        assert_eq!(view.services[0].t, vec![14.0]);
        assert_eq!(view.services[0].rate, vec![Some(1.0)]);
    }

    #[test]
    fn the_ring_keeps_the_window() {
        let options = Options::every(Duration::from_secs(60)).unwrap();
        assert_eq!(options.points(), 10);
        let series = Series::new(options);
        for i in 0..25 {
            series.record(f64::from(i) * 60.0, steps(&[("orders", step(1.0, 0.0))]));
        }
        let view = series.view(&[], None);
        assert_eq!(view.services[0].t.len(), 10);
        assert_eq!(view.services[0].t[0], 15.0 * 60.0);
        assert_eq!(view.step_seconds, 60.0);
        assert_eq!(view.window_seconds, 600);
    }

    #[test]
    fn intervals_out_of_range_are_refused() {
        assert_eq!(Options::default().points(), 300);
        assert!(Options::every(Duration::from_millis(10)).is_err());
        assert!(Options::every(Duration::from_secs(61)).is_err());
        assert_eq!(Options::every(MIN_INTERVAL).unwrap().points(), MAX_POINTS);
    }

    #[test]
    fn counts_are_whole_numbers() {
        assert_eq!(whole(2.6), 3);
        assert_eq!(whole(-1.0), 0);
        assert_eq!(whole(f64::NAN), 0);
    }
}
