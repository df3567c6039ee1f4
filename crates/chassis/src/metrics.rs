//! Prometheus metrics: RED per route (served) and per dependency (called), in-flight gauges,
//! store pool use, and whatever a service registers of its own. Every name is declared here once,
//! with its help text and unit, so that dashboards have one place to look.

use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

// Label values are shared strings (`Arc<str>`, `&'static str`) rather than `String`s: labels
// are built on every request to find their series, and cloning them must not allocate.

/// Labels of a served request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route template (`/v1/products/{id}`), never the raw path, to bound cardinality.
    pub route: Arc<str>,
    /// A standard method's name, or `OTHER`, to bound cardinality.
    pub method: &'static str,
}

/// Labels of a served request's outcome.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteStatusLabels {
    pub route: Arc<str>,
    pub method: &'static str,
    pub status: u16,
}

/// Labels of an outbound call.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DependencyLabels {
    pub dependency: Arc<str>,
}

/// Labels of an outbound call's outcome: a status code, or `unavailable`, `timeout`, `transport`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DependencyOutcomeLabels {
    pub dependency: Arc<str>,
    pub outcome: Outcome,
}

/// Labels of a circuit breaker's transition: the dependency and the state entered
/// (`closed`, `open`, `half_open`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BreakerTransitionLabels {
    pub dependency: Arc<str>,
    pub state: &'static str,
}

/// Labels of a call refused before it was sent: `breaker_open` or `bulkhead_full`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectionLabels {
    pub dependency: Arc<str>,
    pub reason: &'static str,
}

/// Labels of an injected fault: the route template and the kind (`latency`, `error`, `abort`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FaultLabels {
    pub route: Arc<str>,
    pub kind: &'static str,
}

/// How an outbound call ended.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Outcome {
    /// The dependency answered with this status.
    Status(u16),
    Unavailable,
    Timeout,
    Transport,
    Decode,
    Request,
}

impl prometheus_client::encoding::EncodeLabelValue for Outcome {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelValueEncoder<'_>,
    ) -> std::fmt::Result {
        use std::fmt::Write;
        match self {
            Outcome::Status(status) => write!(encoder, "{status}"),
            Outcome::Unavailable => encoder.write_str("unavailable"),
            Outcome::Timeout => encoder.write_str("timeout"),
            Outcome::Transport => encoder.write_str("transport"),
            Outcome::Decode => encoder.write_str("decode"),
            Outcome::Request => encoder.write_str("request"),
        }
    }
}

/// A method as a metric label: the standard ones by name, any other as `OTHER`, so that a client
/// inventing methods cannot create series without bound.
pub fn method_label(method: &http::Method) -> &'static str {
    use http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InfoLabels {
    service: String,
    version: String,
    instance: String,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms … ~8 s: loopback hops are sub-millisecond, deadlines are seconds.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// Server-side RED metrics.
#[derive(Debug, Clone)]
pub struct ServerMetrics {
    pub requests: Family<RouteStatusLabels, Counter>,
    pub errors: Family<RouteStatusLabels, Counter>,
    pub duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub in_flight: Gauge,
    /// Requests refused at once because the instance was at its concurrency limit.
    pub shed: Family<RouteLabels, Counter>,
    /// The concurrency limit now (fixed, or where the adaptive limit stands; 0: no limit).
    pub concurrency_limit: Gauge,
    /// Faults injected by chaos rules (only ever counted when the service runs with `--chaos`).
    pub injected_faults: Family<FaultLabels, Counter>,
}

/// Client-side RED metrics, per dependency.
#[derive(Debug, Clone)]
pub struct ClientMetrics {
    pub requests: Family<DependencyOutcomeLabels, Counter>,
    pub duration: Family<DependencyLabels, Histogram, fn() -> Histogram>,
    pub in_flight: Family<DependencyLabels, Gauge>,
    pub retries: Family<DependencyLabels, Counter>,
    /// The circuit breaker's state per dependency: 0 closed, 1 open, 2 half-open.
    pub breaker_state: Family<DependencyLabels, Gauge>,
    pub breaker_transitions: Family<BreakerTransitionLabels, Counter>,
    pub rejected: Family<RejectionLabels, Counter>,
    pub retry_budget_exhausted: Family<DependencyLabels, Counter>,
    pub ejections: Family<DependencyLabels, Counter>,
}

type Collector = Box<dyn Fn() + Send + Sync>;

/// The process's metrics registry and the chassis's own instruments.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    collectors: Arc<Mutex<Vec<Collector>>>,
    pub server: ServerMetrics,
    pub client: ClientMetrics,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl ServerMetrics {
    /// The server's instruments, registered in `registry`.
    fn registered(registry: &mut Registry) -> ServerMetrics {
        let server = ServerMetrics {
            requests: Family::default(),
            errors: Family::default(),
            duration: Family::new_with_constructor(latency_histogram),
            in_flight: Gauge::default(),
            shed: Family::default(),
            concurrency_limit: Gauge::default(),
            injected_faults: Family::default(),
        };
        registry.register(
            "http_server_requests",
            "Requests served, by route, method and status",
            server.requests.clone(),
        );
        registry.register(
            "http_server_errors",
            "Requests served with a 5xx status, by route, method and status",
            server.errors.clone(),
        );
        registry.register_with_unit(
            "http_server_request_duration",
            "Time to serve a request, by route and method",
            Unit::Seconds,
            server.duration.clone(),
        );
        registry.register(
            "http_server_in_flight_requests",
            "Requests being served now",
            server.in_flight.clone(),
        );
        registry.register(
            "http_server_shed_requests",
            "Requests refused with 503 overloaded because the instance was at its concurrency limit, by route and method",
            server.shed.clone(),
        );
        registry.register(
            "http_server_concurrency_limit",
            "Requests the instance admits at once now (fixed, or where the adaptive limit stands; 0: no limit)",
            server.concurrency_limit.clone(),
        );
        registry.register(
            "http_server_injected_faults",
            "Faults injected by chaos rules, by route and kind (latency, error, abort)",
            server.injected_faults.clone(),
        );
        server
    }
}

impl ClientMetrics {
    /// The client's instruments, registered in `registry`.
    fn registered(registry: &mut Registry) -> ClientMetrics {
        let client = ClientMetrics {
            requests: Family::default(),
            duration: Family::new_with_constructor(latency_histogram),
            in_flight: Family::default(),
            retries: Family::default(),
            breaker_state: Family::default(),
            breaker_transitions: Family::default(),
            rejected: Family::default(),
            retry_budget_exhausted: Family::default(),
            ejections: Family::default(),
        };
        registry.register(
            "http_client_requests",
            "Calls to other services, by dependency and outcome",
            client.requests.clone(),
        );
        registry.register_with_unit(
            "http_client_request_duration",
            "Time of calls to other services, by dependency",
            Unit::Seconds,
            client.duration.clone(),
        );
        registry.register(
            "http_client_in_flight_requests",
            "Calls to other services in progress, by dependency",
            client.in_flight.clone(),
        );
        registry.register(
            "http_client_retries",
            "Calls retried on another instance, by dependency",
            client.retries.clone(),
        );
        registry.register(
            "http_client_breaker_state",
            "Circuit breaker state, by dependency: 0 closed, 1 open, 2 half-open",
            client.breaker_state.clone(),
        );
        registry.register(
            "http_client_breaker_transitions",
            "Circuit breaker state changes, by dependency and the state entered",
            client.breaker_transitions.clone(),
        );
        registry.register(
            "http_client_rejected_calls",
            "Calls refused without being sent, by dependency and reason (breaker_open, bulkhead_full)",
            client.rejected.clone(),
        );
        registry.register(
            "http_client_retry_budget_exhausted",
            "Retries not made because the dependency's retry budget was spent, by dependency",
            client.retry_budget_exhausted.clone(),
        );
        registry.register(
            "http_client_outlier_ejections",
            "Instances taken out of balancing for failing repeatedly, by dependency",
            client.ejections.clone(),
        );
        client
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let server = ServerMetrics::registered(&mut registry);
        let client = ClientMetrics::registered(&mut registry);
        Metrics {
            registry: Arc::new(Mutex::new(registry)),
            collectors: Arc::new(Mutex::new(Vec::new())),
            server,
            client,
        }
    }

    /// Registers a service's own metric.
    pub fn register(
        &self,
        name: &str,
        help: &str,
        metric: impl prometheus_client::registry::Metric,
    ) {
        if let Ok(mut registry) = self.registry.lock() {
            registry.register(name, help, metric);
        }
    }

    /// Records which service, version and instance this process is.
    pub fn register_info(&self, service: &str, version: &str, instance: &str) {
        let info = Family::<InfoLabels, Gauge>::default();
        info.get_or_create(&InfoLabels {
            service: service.to_owned(),
            version: version.to_owned(),
            instance: instance.to_owned(),
        })
        .set(1);
        self.register(
            "brigade_service_info",
            "The running service's identity",
            info,
        );
    }

    /// Exposes a store's pool use, read at each scrape. The store implements [`PoolUsage`], so
    /// that metrics know nothing of the store.
    pub fn register_db_pool(&self, db: impl PoolUsage) {
        let gauge = Family::<PoolLabels, Gauge>::default();
        self.register(
            "brigade_db_pool_connections",
            "Store connections, by state (in_use, idle)",
            gauge.clone(),
        );
        self.on_scrape(move || {
            let (in_use, idle) = db.pool_usage();
            gauge
                .get_or_create(&PoolLabels { state: "in_use" })
                .set(i64::from(in_use));
            gauge
                .get_or_create(&PoolLabels { state: "idle" })
                .set(i64::from(idle));
        });
    }

    /// Runs `collect` before every scrape, to refresh gauges that are cheaper to read than to track.
    pub fn on_scrape(&self, collect: impl Fn() + Send + Sync + 'static) {
        if let Ok(mut collectors) = self.collectors.lock() {
            collectors.push(Box::new(collect));
        }
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric.
    pub fn encode(&self) -> String {
        if let Ok(collectors) = self.collectors.lock() {
            for collect in collectors.iter() {
                collect();
            }
        }
        let mut out = String::new();
        if let Ok(registry) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        }
        classic_text(&out)
    }

    /// What `/metrics` answers: [`Metrics::encode`], labelled as the text format it is.
    pub fn response(&self) -> axum::response::Response {
        use axum::response::IntoResponse;
        ([(::http::header::CONTENT_TYPE, TEXT_FORMAT)], self.encode()).into_response()
    }
}

/// The media type of the Prometheus text format, which every scraper reads.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `openmetrics` (what `prometheus_client` writes) rewritten in the Prometheus text format.
///
/// OpenMetrics names a counter's family without `_total` (`# TYPE x counter`, sample
/// `x_total`), and ends with `# EOF`. Served as `text/plain`, which is how Prometheus and
/// promtool read it, the family's HELP and TYPE then name no sample, so `x_total` is scraped
/// untyped and without help. So the counter's HELP and TYPE lines take the sample's name, and the
/// OpenMetrics-only `# UNIT` and `# EOF` lines go (the unit is in the name already).
fn classic_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 8 * counters.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let descriptor = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|prefix| Some((prefix, line.strip_prefix(prefix)?)));
        match descriptor {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                out.push_str(prefix);
                out.push_str(name);
                if counters.contains(name) {
                    out.push_str("_total");
                }
                out.push(' ');
                out.push_str(tail);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// A connection pool whose use [`Metrics::register_db_pool`] exposes.
pub trait PoolUsage: Send + Sync + 'static {
    /// The connections in use and idle, now.
    fn pool_usage(&self) -> (u32, u32);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_described_under_their_samples_name_and_openmetrics_lines_go() {
        let metrics = Metrics::new();
        metrics
            .server
            .requests
            .get_or_create(&RouteStatusLabels {
                route: "/v1/x".into(),
                method: "GET",
                status: 200,
            })
            .inc();
        metrics
            .server
            .duration
            .get_or_create(&RouteLabels {
                route: "/v1/x".into(),
                method: "GET",
            })
            .observe(0.01);
        let text = metrics.encode();
        assert!(
            text.contains("# HELP http_server_requests_total Requests served"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE http_server_requests_total counter\n"),
            "{text}"
        );
        assert!(text.contains(
            "http_server_requests_total{route=\"/v1/x\",method=\"GET\",status=\"200\"} 1\n"
        ));
        // Gauges and histograms keep their names.
        assert!(
            text.contains("# TYPE http_server_in_flight_requests gauge\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE http_server_request_duration_seconds histogram\n"));
        assert!(
            !text.contains("# UNIT") && !text.contains("# EOF"),
            "{text}"
        );
    }
}
