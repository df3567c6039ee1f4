//! The scraper: every interval, `/metrics` of every registered instance, all at once, each
//! within a timeout; each instance's counters turned into what they grew by since its previous
//! scrape, summed per service into a [`Step`], recorded in the [`Series`].
//!
//! An instance that does not answer in time, or answers something that is not an exposition,
//! is skipped for that round (its baseline kept); it is not an error. The scraper runs on its
//! own task and shares only the [`Series`]'s lock with the API, held for a push or a copy, so
//! the control port never waits on an instance.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use brigade_chassis::client::plain::PlainClient;
use brigade_registry::Registry;
use futures_util::future::join_all;
use http::Method;

use super::exposition::{self, Labels, Sample};
use super::series::Series;
use super::step::{is_cumulative, Step};

/// The longest an instance may take to answer `/metrics`, whatever the interval.
pub const MAX_SCRAPE_TIMEOUT: Duration = Duration::from_secs(1);

/// A series' identity within one instance: its name and sorted labels.
type SeriesKey = (String, Labels);

/// One instance's answer in a round.
#[derive(Debug, Clone)]
pub struct Scraped {
    pub service: String,
    pub instance_id: String,
    /// When the instance's process started, Unix milliseconds.
    pub started_at_ms: u64,
    /// Its samples; `None` when it did not answer (or not with an exposition).
    pub samples: Option<Vec<Sample>>,
}

/// Each instance's counters at its previous scrape, to take what they grew by.
#[derive(Debug, Default)]
pub struct Baselines {
    by_instance: HashMap<String, HashMap<SeriesKey, f64>>,
    /// When the previous round was taken, Unix milliseconds.
    last_round_ms: Option<u64>,
}

impl Baselines {
    /// Turns a round taken at `now_ms` into a step per service, and keeps its counters as the
    /// next round's baselines. Instances no longer registered are forgotten.
    pub fn round(&mut self, now_ms: u64, scraped: Vec<Scraped>) -> BTreeMap<String, Step> {
        let mut steps: BTreeMap<String, Step> = BTreeMap::new();
        let mut next: HashMap<String, HashMap<SeriesKey, f64>> = HashMap::new();
        for instance in scraped {
            let step = steps.entry(instance.service.clone()).or_default();
            let previous = self.by_instance.remove(&instance.instance_id);
            let Some(samples) = instance.samples else {
                // Unreachable this round: keep its baseline for the next.
                if let Some(previous) = previous {
                    next.insert(instance.instance_id, previous);
                }
                continue;
            };
            let (counters, gauges): (Vec<Sample>, Vec<Sample>) =
                samples.into_iter().partition(|s| is_cumulative(&s.name));
            // A new instance started since the previous round grew from zero; one that was
            // already running when first seen grew by an unknown amount.
            let started_since = self
                .last_round_ms
                .is_some_and(|last| instance.started_at_ms >= last);
            let baseline = previous.or_else(|| started_since.then(HashMap::new));
            let growth = baseline.map(|b| growth(&b, &counters));
            step.add_instance(growth.as_deref(), &gauges);
            next.insert(
                instance.instance_id,
                counters
                    .into_iter()
                    .map(|s| ((s.name, s.labels), s.value))
                    .collect(),
            );
        }
        self.by_instance = next;
        self.last_round_ms = Some(now_ms);
        steps
    }
}

/// What each counter grew by since `baseline`. A counter lower than its baseline was reset
/// (the process restarted between scrapes): it grew by its whole value, as Prometheus's
/// `rate()` takes it. A counter without a baseline appeared since: it grew from zero.
fn growth(baseline: &HashMap<SeriesKey, f64>, counters: &[Sample]) -> Vec<Sample> {
    counters
        .iter()
        .map(|counter| {
            let key = (counter.name.clone(), counter.labels.clone());
            let before = baseline.get(&key).copied().unwrap_or(0.0);
            let grew = if counter.value >= before {
                counter.value - before
            } else {
                counter.value
            };
            Sample {
                value: grew,
                ..counter.clone()
            }
        })
        .collect()
}

/// Scrapes every registered instance every interval until dropped.
#[derive(Debug)]
pub struct Scraper {
    task: tokio::task::JoinHandle<()>,
}

impl Scraper {
    /// Starts scraping the instances `registry` lists into `series`, at its interval.
    pub fn spawn(registry: Registry, series: Series) -> Scraper {
        let interval = series.options().interval();
        let client = PlainClient::new(interval.min(MAX_SCRAPE_TIMEOUT));
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            // A slow round delays the next rather than bunching rounds up after it.
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut baselines = Baselines::default();
            loop {
                ticks.tick().await;
                let scraped = scrape_all(&registry, &client).await;
                let now_ms = brigade_chassis::time::unix_ms();
                let steps = baselines.round(now_ms, scraped);
                series.record(now_ms as f64 / 1e3, steps);
            }
        });
        Scraper { task }
    }
}

impl Drop for Scraper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every registered instance's `/metrics`, asked all at once.
async fn scrape_all(registry: &Registry, client: &PlainClient) -> Vec<Scraped> {
    let instances: Vec<_> = registry
        .catalogue()
        .services
        .into_values()
        .flatten()
        .map(|record| record.registration)
        .collect();
    let answers = join_all(
        instances
            .iter()
            .map(|r| scrape_one(client, format!("http://{}/metrics", r.address))),
    )
    .await;
    instances
        .into_iter()
        .zip(answers)
        .map(|(registration, samples)| Scraped {
            service: registration.service,
            instance_id: registration.instance_id,
            started_at_ms: registration.started_at_ms,
            samples,
        })
        .collect()
}

async fn scrape_one(client: &PlainClient, url: String) -> Option<Vec<Sample>> {
    let answer = client.send(Method::GET, &url, None).await.ok()?;
    if !answer.status.is_success() {
        return None;
    }
    let text = std::str::from_utf8(&answer.body).ok()?;
    match exposition::parse(text) {
        Ok(samples) => Some(samples),
        Err(error) => {
            tracing::debug!(%url, %error, "skipping an exposition the console cannot read");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exposition(requests: f64, errors: f64, fast: f64, slow: f64) -> Vec<Sample> {
        exposition::parse(&format!(
            "http_server_requests_total{{route=\"/v1/x\",method=\"GET\",status=\"200\"}} {requests}\n\
             http_server_errors_total{{route=\"/v1/x\",method=\"GET\",status=\"500\"}} {errors}\n\
             http_server_request_duration_seconds_bucket{{route=\"/v1/x\",method=\"GET\",le=\"0.01\"}} {fast}\n\
             http_server_request_duration_seconds_bucket{{route=\"/v1/x\",method=\"GET\",le=\"0.1\"}} {}\n\
             http_server_request_duration_seconds_bucket{{route=\"/v1/x\",method=\"GET\",le=\"+Inf\"}} {}\n\
             http_server_in_flight_requests 1\n",
            fast + slow,
            fast + slow
        ))
        .unwrap()
    }

    fn scraped(id: &str, started_at_ms: u64, samples: Option<Vec<Sample>>) -> Scraped {
        Scraped {
            service: "orders".to_owned(),
            instance_id: id.to_owned(),
            started_at_ms,
            samples,
        }
    }

    /// An instance of orders started at `started_at_ms`, whose counters show `requests` served,
    /// every one fast and fine.
    fn served(id: &str, started_at_ms: u64, requests: f64) -> Scraped {
        scraped(
            id,
            started_at_ms,
            Some(exposition(requests, 0.0, requests, 0.0)),
        )
    }

    #[test]
    fn a_running_instance_counts_from_its_second_scrape() {
        let mut baselines = Baselines::default();
        let first = baselines.round(10_000, vec![served("a", 0, 100.0)]);
        assert_eq!(first["orders"].instances_scraped, 1);
        assert!(
            !first["orders"].counted(),
            "already running: growth unknown"
        );
        assert_eq!(first["orders"].in_flight, 1.0, "gauges are read at once");

        let second = baselines.round(
            12_000,
            vec![scraped("a", 0, Some(exposition(110.0, 1.0, 108.0, 2.0)))],
        );
        let step = &second["orders"];
        assert_eq!(step.requests, 10.0);
        assert_eq!(step.errors, 1.0);
        // 8 of the 10 new ones within 10 ms: the median is in the first bucket.
        assert_eq!(step.duration.quantile(0.5), Some(0.01 * 5.0 / 8.0));
    }

    #[test]
    fn counters_across_instances_add_up_and_a_reset_counts_from_zero() {
        let mut baselines = Baselines::default();
        baselines.round(10_000, vec![served("a", 0, 100.0), served("b", 0, 50.0)]);
        let step = baselines.round(
            12_000,
            vec![
                served("a", 0, 105.0),
                // b's counters went back: it was reset, and served 3 since.
                served("b", 0, 3.0),
            ],
        );
        assert_eq!(step["orders"].requests, 8.0);
        assert_eq!(step["orders"].instances_counted, 2);
    }

    #[test]
    fn an_instance_started_since_the_previous_round_counts_from_zero() {
        let mut baselines = Baselines::default();
        baselines.round(10_000, vec![served("a", 0, 1.0)]);
        let step = baselines.round(
            12_000,
            vec![served("a", 0, 1.0), served("new", 11_000, 4.0)],
        );
        assert_eq!(step["orders"].requests, 4.0);
    }

    #[test]
    fn an_unreachable_instance_is_skipped_and_keeps_its_baseline() {
        let mut baselines = Baselines::default();
        baselines.round(10_000, vec![served("a", 0, 10.0)]);
        let missed = baselines.round(12_000, vec![scraped("a", 0, None)]);
        assert_eq!(missed["orders"].instances_scraped, 0);
        assert!(!missed["orders"].counted());
        // Back: its growth over both rounds counts once.
        let back = baselines.round(14_000, vec![served("a", 0, 16.0)]);
        assert_eq!(back["orders"].requests, 6.0);
    }

    #[test]
    fn a_deregistered_instance_is_forgotten() {
        let mut baselines = Baselines::default();
        baselines.round(10_000, vec![served("a", 0, 10.0)]);
        baselines.round(12_000, vec![]);
        assert!(baselines.by_instance.is_empty());
    }

    #[tokio::test]
    async fn a_real_instance_is_scraped_and_a_dead_one_skipped() {
        // The control port serves the chassis's /metrics: scrape it as if it were an instance.
        let control = crate::testing::serve(crate::testing::sources(&[])).await;
        let address = control.trim_start_matches("http://").to_owned();
        let registry = Registry::new();
        for (id, address) in [("live-1", address.as_str()), ("dead-1", "127.0.0.1:9")] {
            registry.register(id, registration(id, address)).unwrap();
        }
        let client = PlainClient::new(Duration::from_secs(1));
        let mut scraped = scrape_all(&registry, &client).await;
        scraped.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
        assert!(scraped[0].samples.is_none(), "nothing listens on port 9");
        let live = scraped[1].samples.as_ref().unwrap();
        assert!(live
            .iter()
            .any(|s| s.name == "http_server_in_flight_requests"));
    }

    fn registration(id: &str, address: &str) -> brigade_chassis::discovery::api::Registration {
        brigade_chassis::discovery::api::Registration {
            service: "control".to_owned(),
            instance_id: id.to_owned(),
            address: address.to_owned(),
            local_socket: None,
            version: "0".to_owned(),
            pid: None,
            started_at_ms: 0,
            ttl_ms: 10_000,
            metadata: Default::default(),
        }
    }
}
