//! Prometheus metrics: RED per route (served) and per dependency (called), in-flight gauges,
//! store pool use, the events' outbox and consumers, and whatever a service registers of its
//! own. Every name is declared here once, with its help text and unit, so that dashboards have
//! one place to look.
//!
//! `/metrics` answers in the Prometheus text format (0.0.4), or in OpenMetrics when the
//! scraper's `Accept` asks for `application/openmetrics-text` (Prometheus does by default): only
//! OpenMetrics carries exemplars, the trace id of a sampled request on the latency bucket it fell
//! in, so that a dashboard can jump from a slow bucket to a trace.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::exponential_buckets;
use prometheus_client::registry::{Registry, Unit};

use crate::trace_context::TraceContext;

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

/// Labels of a call refused for its caller's identity: the route template and why
/// (`missing`, `invalid`, `not_accepted`, `keys_unavailable`); never the token, never the caller's claims.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IdentityRefusalLabels {
    pub route: Arc<str>,
    pub reason: &'static str,
}

/// Labels of an edge's rate limit: which one (`log_in_per_address`, `checkout_per_shopper`, …).
/// Never the key it limits (an address, an e-mail): those are personal and unbounded.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    pub limit: &'static str,
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

/// A latency histogram whose buckets keep the trace id of the last sampled request that fell in
/// them (exemplars, written in OpenMetrics only).
pub type LatencyHistogram = HistogramWithExemplars<TraceExemplar>;

fn latency_histogram() -> LatencyHistogram {
    // 0.25 ms … ~8 s: loopback hops are sub-millisecond, deadlines are seconds.
    HistogramWithExemplars::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// An exemplar's labels: the trace the observed request belongs to (`trace_id`, 32 hex digits,
/// as the traces and logs show it).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TraceExemplar {
    trace_id: TraceId,
}

/// A trace id kept as its bytes and written as hex only when scraped, so that observing a
/// request allocates nothing.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
struct TraceId([u8; 16]);

impl EncodeLabelValue for TraceId {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        self.0
            .iter()
            .try_for_each(|byte| write!(encoder, "{byte:02x}"))
    }
}

/// The exemplar for a request of `trace`: its trace id when the trace is sampled (an unsampled
/// trace is recorded nowhere, so its id would lead nowhere).
pub fn exemplar(trace: &TraceContext) -> Option<TraceExemplar> {
    trace.sampled.then_some(TraceExemplar {
        trace_id: TraceId(trace.trace_id),
    })
}

/// Server-side RED metrics.
#[derive(Debug, Clone)]
pub struct ServerMetrics {
    pub requests: Family<RouteStatusLabels, Counter>,
    pub errors: Family<RouteStatusLabels, Counter>,
    pub duration: Family<RouteLabels, LatencyHistogram, fn() -> LatencyHistogram>,
    pub in_flight: Gauge,
    /// Requests refused at once because the instance was at its concurrency limit.
    pub shed: Family<RouteLabels, Counter>,
    /// The concurrency limit now (fixed, or where the adaptive limit stands; 0: no limit).
    pub concurrency_limit: Gauge,
    /// Faults injected by chaos rules (only ever counted when the service runs with `--chaos`).
    pub injected_faults: Family<FaultLabels, Counter>,
    /// Calls refused because their caller's identity was missing, invalid or not accepted by
    /// the route ([`crate::identity`]).
    pub identity_refused: Family<IdentityRefusalLabels, Counter>,
    /// Requests refused `429` by an edge's rate limit (`ratelimit`), by limit.
    pub rate_limited: Family<LimitLabels, Counter>,
    /// Keys an edge's rate limit remembers now, by limit (bounded by `--rate-limit-max-keys`).
    pub rate_limit_keys: Family<LimitLabels, Gauge>,
}

/// Client-side RED metrics, per dependency.
#[derive(Debug, Clone)]
pub struct ClientMetrics {
    pub requests: Family<DependencyOutcomeLabels, Counter>,
    pub duration: Family<DependencyLabels, LatencyHistogram, fn() -> LatencyHistogram>,
    pub in_flight: Family<DependencyLabels, Gauge>,
    pub retries: Family<DependencyLabels, Counter>,
    /// The circuit breaker's state per dependency: 0 closed, 1 open, 2 half-open.
    pub breaker_state: Family<DependencyLabels, Gauge>,
    pub breaker_transitions: Family<BreakerTransitionLabels, Counter>,
    pub rejected: Family<RejectionLabels, Counter>,
    pub retry_budget_exhausted: Family<DependencyLabels, Counter>,
    pub ejections: Family<DependencyLabels, Counter>,
    /// Attempts handed to an instance served in this process (`brigade up --colocate`).
    pub in_process: Family<DependencyLabels, Counter>,
}

/// Labels of an event subscription: its name, the durable consumer's name on JetStream
/// (`consumer-source`, e.g. `notifications-orders`), used on both transports.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SubscriptionLabels {
    pub subscription: Arc<str>,
}

/// The events' instruments: the outbox a producer relays from, and each subscription a consumer
/// runs. The outbox gauges and the parked gauge are read from the store at each scrape (see
/// [`Metrics::on_scrape_async`]), not tracked per event.
#[derive(Debug, Clone)]
pub struct EventMetrics {
    /// Events committed to the outbox and not yet handed to the transport.
    pub outbox_pending: Gauge,
    /// Age of the oldest of them, in seconds (0 when none waits).
    pub outbox_oldest_pending_age: Gauge<f64, AtomicU64>,
    /// Events the relay handed to the transport (positioned in the feed, or stored by JetStream).
    pub outbox_published: Counter,
    pub consumer_lag: Family<SubscriptionLabels, Gauge>,
    pub consumer_applied: Family<SubscriptionLabels, Counter>,
    pub consumer_failed: Family<SubscriptionLabels, Counter>,
    pub consumer_parked: Family<SubscriptionLabels, Gauge>,
}

/// One subscription's series, looked up once. Its `Default` is a set of instruments registered
/// nowhere (an inbox that is not measured).
#[derive(Debug, Clone, Default)]
pub struct ConsumerMetrics {
    /// Events the subscription is behind its producer's head.
    pub lag: Gauge,
    pub applied: Counter,
    /// Deliveries that did not apply (the handler or the consumer's store failed).
    pub failed: Counter,
    /// Events parked now.
    pub parked: Gauge,
}

impl EventMetrics {
    fn registered(registry: &mut Registry) -> EventMetrics {
        let events = EventMetrics {
            outbox_pending: Gauge::default(),
            outbox_oldest_pending_age: Gauge::default(),
            outbox_published: Counter::default(),
            consumer_lag: Family::default(),
            consumer_applied: Family::default(),
            consumer_failed: Family::default(),
            consumer_parked: Family::default(),
        };
        registry.register(
            "brigade_outbox_pending_events",
            "Events committed to the outbox and not yet handed to the transport",
            events.outbox_pending.clone(),
        );
        registry.register_with_unit(
            "brigade_outbox_oldest_pending_age",
            "Age of the oldest event waiting in the outbox (0 when none waits)",
            Unit::Seconds,
            events.outbox_oldest_pending_age.clone(),
        );
        registry.register(
            "brigade_outbox_published_events",
            "Events the outbox relay handed to the transport",
            events.outbox_published.clone(),
        );
        registry.register(
            "brigade_consumer_lag_events",
            "Events a subscription is behind its producer's head, by subscription",
            events.consumer_lag.clone(),
        );
        registry.register(
            "brigade_consumer_applied_events",
            "Events whose effect a subscription committed, by subscription",
            events.consumer_applied.clone(),
        );
        registry.register(
            "brigade_consumer_failed_deliveries",
            "Deliveries of an event that did not apply (handler or store failed), by subscription",
            events.consumer_failed.clone(),
        );
        registry.register(
            "brigade_consumer_parked_events",
            "Events parked now (failed too often, or held behind a parked event of their subject), by subscription",
            events.consumer_parked.clone(),
        );
        events
    }

    /// The series of `subscription`.
    pub fn consumer(&self, subscription: &str) -> ConsumerMetrics {
        let labels = SubscriptionLabels {
            subscription: Arc::from(subscription),
        };
        ConsumerMetrics {
            lag: self.consumer_lag.get_or_create(&labels).clone(),
            applied: self.consumer_applied.get_or_create(&labels).clone(),
            failed: self.consumer_failed.get_or_create(&labels).clone(),
            parked: self.consumer_parked.get_or_create(&labels).clone(),
        }
    }
}

type Collector = Box<dyn Fn() + Send + Sync>;
type AsyncCollector = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

/// How long a scrape waits for a gauge read from a store: a store that hangs leaves the gauge
/// at its last value rather than holding the scrape past Prometheus's timeout.
const ASYNC_COLLECT_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The process's metrics registry and the chassis's own instruments.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    collectors: Arc<Mutex<Vec<Collector>>>,
    async_collectors: Arc<Mutex<Vec<AsyncCollector>>>,
    pub server: ServerMetrics,
    pub client: ClientMetrics,
    pub events: EventMetrics,
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
            identity_refused: Family::default(),
            rate_limited: Family::default(),
            rate_limit_keys: Family::default(),
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
        registry.register(
            "brigade_identity_refused",
            "Calls refused for their caller's identity, by route and reason (missing, invalid, not_accepted, keys_unavailable)",
            server.identity_refused.clone(),
        );
        registry.register(
            "http_server_rate_limited_requests",
            "Requests refused with 429 rate-limited by an edge's rate limit, by limit",
            server.rate_limited.clone(),
        );
        registry.register(
            "http_server_rate_limit_keys",
            "Keys (addresses, accounts, shoppers) an edge's rate limit remembers now, by limit",
            server.rate_limit_keys.clone(),
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
            in_process: Family::default(),
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
        registry.register(
            "http_client_in_process_attempts",
            "Attempts handed to an instance served in this process (brigade up --colocate) instead of sent over HTTP, by dependency",
            client.in_process.clone(),
        );
        client
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let server = ServerMetrics::registered(&mut registry);
        let client = ClientMetrics::registered(&mut registry);
        let events = EventMetrics::registered(&mut registry);
        Metrics {
            registry: Arc::new(Mutex::new(registry)),
            collectors: Arc::new(Mutex::new(Vec::new())),
            async_collectors: Arc::new(Mutex::new(Vec::new())),
            server,
            client,
            events,
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

    /// Runs `collect` before every scrape that [`Metrics::scrape`] answers, for gauges read from
    /// a store. Each gets [`ASYNC_COLLECT_LIMIT`]; they run concurrently.
    pub fn on_scrape_async<F, Fut>(&self, collect: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        if let Ok(mut collectors) = self.async_collectors.lock() {
            collectors.push(Arc::new(move || Box::pin(collect())));
        }
    }

    /// Refreshes the gauges read from stores ([`Metrics::on_scrape_async`]).
    pub async fn refresh(&self) {
        let collectors: Vec<AsyncCollector> = self
            .async_collectors
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default();
        let runs = collectors
            .iter()
            .map(|collect| tokio::time::timeout(ASYNC_COLLECT_LIMIT, collect()));
        for outcome in futures_util::future::join_all(runs).await {
            if outcome.is_err() {
                tracing::debug!(
                    "a metrics collector took too long; its gauges keep their last value"
                );
            }
        }
    }

    /// The OpenMetrics exposition of every metric, exemplars included.
    pub fn encode_openmetrics(&self) -> String {
        if let Ok(collectors) = self.collectors.lock() {
            for collect in collectors.iter() {
                collect();
            }
        }
        let mut out = String::new();
        if let Ok(registry) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        }
        out
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric.
    pub fn encode(&self) -> String {
        classic_text(&self.encode_openmetrics())
    }

    /// What `/metrics` answers: the store gauges refreshed, then OpenMetrics (with exemplars)
    /// when `accept` asks for it, else the Prometheus text format.
    pub async fn scrape(&self, accept: Option<&::http::HeaderValue>) -> axum::response::Response {
        use axum::response::IntoResponse;
        self.refresh().await;
        if accept
            .and_then(|a| a.to_str().ok())
            .is_some_and(accepts_openmetrics)
        {
            let body = self.encode_openmetrics();
            ([(::http::header::CONTENT_TYPE, OPENMETRICS_FORMAT)], body).into_response()
        } else {
            self.response()
        }
    }

    /// The Prometheus text format of [`Metrics::encode`], labelled as what it is (without the
    /// store gauges' refresh: [`Metrics::scrape`] does that).
    pub fn response(&self) -> axum::response::Response {
        use axum::response::IntoResponse;
        ([(::http::header::CONTENT_TYPE, TEXT_FORMAT)], self.encode()).into_response()
    }
}

/// The media type of the Prometheus text format, which every scraper reads.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The media type of OpenMetrics, which Prometheus asks for first and which carries exemplars.
pub const OPENMETRICS_FORMAT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether an `Accept` header admits OpenMetrics (listed, and not with `q=0`).
fn accepts_openmetrics(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media_type = parts.next().unwrap_or_default();
        let refused = parts.any(|parameter| {
            parameter
                .strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        media_type.eq_ignore_ascii_case("application/openmetrics-text") && !refused
    })
}

/// `openmetrics` (what `prometheus_client` writes) rewritten in the Prometheus text format.
///
/// OpenMetrics names a counter's family without `_total` (`# TYPE x counter`, sample
/// `x_total`), and ends with `# EOF`. Served as `text/plain`, which is how Prometheus and
/// promtool read it, the family's HELP and TYPE then name no sample, so `x_total` is scraped
/// untyped and without help. So the counter's HELP and TYPE lines take the sample's name, and the
/// OpenMetrics-only `# UNIT` and `# EOF` lines and exemplars (` # {trace_id="…"} 0.003` after a
/// bucket's sample) go (the unit is in the name already).
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
            None => out.push_str(without_exemplar(line)),
        }
        out.push('\n');
    }
    out
}

/// A sample line without its exemplar: the line up to the first ` # ` outside quoted label
/// values.
fn without_exemplar(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut quoted = false;
    let mut escaped = false;
    for (at, &byte) in bytes.iter().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b'#' if !quoted && at > 0 && bytes[at - 1] == b' ' => return &line[..at - 1],
            _ => {}
        }
    }
    line
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
            .observe(0.01, None, None);
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

    #[test]
    fn exemplars_are_written_in_openmetrics_and_left_out_of_the_text_format() {
        let metrics = Metrics::new();
        let trace = TraceContext::new_root();
        let labels = DependencyLabels {
            dependency: "catalog".into(),
        };
        let histogram = metrics.client.duration.get_or_create(&labels).clone();
        histogram.observe(0.003, exemplar(&trace), None);
        let unsampled = TraceContext {
            sampled: false,
            ..TraceContext::new_root()
        };
        histogram.observe(0.2, exemplar(&unsampled), None);

        let exemplar_text = format!("# {{trace_id=\"{}\"}} 0.003", trace.trace_id_hex());
        let openmetrics = metrics.encode_openmetrics();
        assert!(openmetrics.contains(&exemplar_text), "{openmetrics}");
        assert!(
            !openmetrics.contains(&unsampled.trace_id_hex()),
            "{openmetrics}"
        );
        let text = metrics.encode();
        assert!(!text.contains("trace_id"), "{text}");
        assert!(
            text.contains(
                "http_client_request_duration_seconds_bucket{le=\"0.004\",dependency=\"catalog\"} 1\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_sample_keeps_a_hash_inside_its_labels_and_loses_its_exemplar() {
        let line = r#"x_bucket{route="/a # b",le="1.0"} 3 # {trace_id="ab"} 0.5"#;
        assert_eq!(
            without_exemplar(line),
            r#"x_bucket{route="/a # b",le="1.0"} 3"#
        );
        assert_eq!(without_exemplar("y_total 2"), "y_total 2");
    }

    #[test]
    fn openmetrics_is_answered_when_the_scraper_accepts_it() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert!(accepts_openmetrics(prometheus));
        assert!(accepts_openmetrics("Application/OpenMetrics-Text"));
        assert!(!accepts_openmetrics("text/plain;version=0.0.4"));
        assert!(!accepts_openmetrics("*/*"));
        assert!(!accepts_openmetrics(
            "application/openmetrics-text;q=0, text/plain"
        ));
    }
}
