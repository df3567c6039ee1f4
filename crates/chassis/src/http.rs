//! The middleware every service's router is wrapped in, in one place so that all services behave
//! alike: request context (trace, request id, deadline), RED metrics, a time limit, a body limit,
//! load shedding past a concurrency limit ([`crate::shedding`]), fault injection when chaos is on
//! ([`crate::chaos`]), panics turned into problems, and problem+json for unknown routes and methods.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use axum::Router;
use http::{HeaderValue, StatusCode};
use tokio::time::Instant;
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

use crate::chaos::{self, Chaos};
use crate::context::{self, RequestContext, DEADLINE_HEADER, REQUEST_ID_HEADER};
use crate::metrics::{method_label, Metrics, RouteLabels, RouteStatusLabels};
use crate::problem::{Problem, ProblemPage};
use crate::routes;
use crate::shedding;
use crate::telemetry::{Traced, Tracer};
use crate::trace_context::{self, TraceContext};

/// Limits applied to every request.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The most time a request may take, whatever deadline the caller sent.
    pub max_request_time: Duration,
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// The largest request head accepted: the request target and every header's name and
    /// value, summed ([`head_bytes`]). Larger is answered `431 headers-too-large` before any
    /// handler runs. (hyper bounds what it reads before this, at about 400 KiB and 100 headers.)
    pub max_header_bytes: usize,
}

/// The default [`Limits::max_header_bytes`]: 32 KiB, as much as common proxies accept (nginx's
/// `large_client_header_buffers` 4 × 8k), and far above Brigade's own (a token, a session cookie).
pub const DEFAULT_MAX_HEADER_BYTES: usize = 32 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_time: Duration::from_secs(10),
            max_body_bytes: 1024 * 1024,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
        }
    }
}

/// The size of a request's head as [`Limits::max_header_bytes`] counts it.
pub fn head_bytes(request: &Request) -> usize {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    request.headers().iter().fold(target, |sum, (name, value)| {
        sum + name.as_str().len() + value.len()
    })
}

/// The answer to a request whose head is larger than `limit`.
fn headers_too_large(limit: usize) -> Problem {
    Problem::new(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers-too-large",
        "Request headers too large",
        format!("the request's target and headers exceed {limit} bytes"),
    )
}

/// How an instance protects itself and is tried: load shedding and fault injection. Apart from
/// [`Limits`] (whose fields callers set literally) so that adding to it breaks nobody.
#[derive(Debug, Clone)]
pub struct Protection {
    /// The most requests served at once before the excess is answered `503 overloaded`
    /// (0: no limit). Health, readiness and metrics are never refused.
    pub max_concurrent_requests: usize,
    /// Whether the limit adapts to the instance's latency under `max_concurrent_requests`
    /// ([`shedding::gradient`]).
    pub adaptive_concurrency: bool,
    /// Fault injection, only when the service runs with `--chaos`: `None` leaves the fault layer
    /// and its admin API out of the stack entirely.
    pub chaos: Option<Chaos>,
    /// How the refusals the middleware answers by itself (overloaded, deadline exceeded, panic,
    /// unknown route or method) are shown: problem+json when `None` (APIs), an edge's own page
    /// otherwise ([`ProblemPage`]).
    pub problem_page: Option<ProblemPage>,
}

impl Default for Protection {
    fn default() -> Self {
        Protection {
            max_concurrent_requests: shedding::DEFAULT_MAX_CONCURRENT_REQUESTS,
            adaptive_concurrency: false,
            chaos: None,
            problem_page: None,
        }
    }
}

/// Wraps a router in the chassis middleware without load shedding or chaos: for servers that are
/// not services run by [`crate::service::run`] (the control plane, whose blocking registry queries
/// legitimately hold many requests open) and in-process test apps. Services get their
/// [`Protection`] from their flags through [`wrap_with`].
pub fn wrap(router: Router, metrics: Metrics, limits: Limits) -> Router {
    wrap_with(
        router,
        metrics,
        limits,
        Protection {
            max_concurrent_requests: 0,
            adaptive_concurrency: false,
            chaos: None,
            problem_page: None,
        },
    )
}

/// Wraps a service's router in the chassis middleware, with `protection`. With chaos on, the
/// admin API ([`chaos::ADMIN_ROUTE`]) is added to the router and the fault layer sits inside the
/// deadline, so that injected latency ends in a 504 like any slow handler.
pub fn wrap_with(
    router: Router,
    metrics: Metrics,
    limits: Limits,
    protection: Protection,
) -> Router {
    wrap_traced(router, metrics, limits, protection, None)
}

/// [`wrap_with`], with a server span per request exported by `tracer` (none for the probes,
/// `/metrics` and long polls, which would bury the requests people look for).
pub fn wrap_traced(
    router: Router,
    metrics: Metrics,
    limits: Limits,
    protection: Protection,
    tracer: Option<Tracer>,
) -> Router {
    let shared = Arc::new(Shared {
        tracer,
        metrics: metrics.clone(),
        limits: limits.clone(),
        limiter: shedding::Limiter::with_mode(
            shedding::LimitMode::of(
                protection.max_concurrent_requests,
                protection.adaptive_concurrency,
            ),
            metrics.server.concurrency_limit.clone(),
        ),
        routes: RwLock::new(HashMap::new()),
        problem_page: protection.problem_page.clone(),
    });
    let page = protection.problem_page;
    let (unknown, not_allowed) = (page.clone(), page.clone());
    let router = router
        .fallback(move |request: Request| unknown_route(unknown.clone(), request))
        .method_not_allowed_fallback(move |request: Request| {
            method_not_allowed(not_allowed.clone(), request)
        });
    let router = match protection.chaos {
        Some(chaos) => router
            .merge(chaos.routes())
            .layer(axum::middleware::from_fn_with_state(
                chaos::Faults { chaos, metrics },
                chaos::inject_faults,
            )),
        None => router,
    };
    router
        .layer(ServeRequestLayer { shared })
        .layer(axum::extract::DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(CatchPanicLayer::custom(
            move |_panic: Box<dyn std::any::Any + Send>| {
                tracing::error!("a request handler panicked");
                ProblemPage::answer(page.as_ref(), Problem::internal())
            },
        ))
}

/// What every request's middleware shares.
struct Shared {
    /// Where server spans go, when they are exported.
    tracer: Option<Tracer>,
    metrics: Metrics,
    limits: Limits,
    limiter: shedding::Limiter,
    /// Route templates as shared strings, so that metric labels are built without allocating.
    routes: RwLock<HashMap<Box<str>, Arc<str>>>,
    /// How the middleware's own refusals are shown (`None`: problem+json).
    problem_page: Option<ProblemPage>,
}

impl Shared {
    fn route_label(&self, route: &str) -> Arc<str> {
        if let Some(label) = self.routes.read().ok().and_then(|r| r.get(route).cloned()) {
            return label;
        }
        let label: Arc<str> = Arc::from(route);
        if let Ok(mut routes) = self.routes.write() {
            routes.insert(Box::from(route), label.clone());
        }
        label
    }
}

/// The tower layer of [`serve_request`]. A hand-written service rather than
/// `axum::middleware::from_fn`, which boxes and clones the whole inner router per request.
#[derive(Clone)]
struct ServeRequestLayer {
    shared: Arc<Shared>,
}

impl<S> tower::Layer<S> for ServeRequestLayer {
    type Service = ServeRequest<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServeRequest {
            inner,
            shared: self.shared.clone(),
        }
    }
}

#[derive(Clone)]
struct ServeRequest<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> tower::Service<Request> for ServeRequest<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The service that was polled ready serves this request; its clone serves the next.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(serve_request(self.shared.clone(), request, inner))
    }
}

async fn unknown_route(page: Option<ProblemPage>, request: Request) -> Response {
    let problem = Problem::not_found(format!("there is no route {}", request.uri().path()));
    ProblemPage::answer(page.as_ref(), problem)
}

async fn method_not_allowed(page: Option<ProblemPage>, request: Request) -> Response {
    let problem = Problem::method_not_allowed(format!(
        "{} is not allowed on {}",
        request.method(),
        request.uri().path()
    ));
    ProblemPage::answer(page.as_ref(), problem)
}

/// Sets up the request's context, serves it within its deadline, and records the outcome.
async fn serve_request<S>(
    shared: Arc<Shared>,
    request: Request,
    inner: S,
) -> Result<Response, Infallible>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    let started = Instant::now();
    let arrived = Arrived::read(&shared, &request);
    let span = arrived.span();
    let ctx = RequestContext {
        trace: arrived.trace,
        request_id: arrived.request_id.clone(),
        deadline: started + arrived.budget,
        span: arrived.server_span.clone(),
    };
    // Admission first, before any work: a refused request must cost next to nothing.
    let admitted = shared.admit(&arrived);
    let shed = admitted.is_none();
    let max_concurrent = shared.limiter.max();
    let budget = arrived.budget;
    let server = &shared.metrics.server;
    server.in_flight.inc();
    let page = shared.problem_page.as_ref();
    let oversized = (head_bytes(&request) > shared.limits.max_header_bytes)
        .then_some(shared.limits.max_header_bytes);
    let mut response = context::scope(
        ctx,
        async move {
            if let Some(limit) = oversized {
                return ProblemPage::answer(page, headers_too_large(limit));
            }
            let Some(_admitted) = admitted else {
                let refusal = ProblemPage::answer(page, shedding::overloaded(max_concurrent));
                return shedding::retry_later(refusal);
            };
            serve_within(budget, inner, request, page).await
        }
        .instrument(span.clone()),
    )
    .await;
    server.in_flight.dec();
    shared.record(&arrived, response.status(), started.elapsed(), shed, &span);
    if let Some(server_span) = &arrived.server_span {
        server_span.end_server(response.status().as_u16(), shed);
    }
    arrived.stamp(&mut response);
    Ok(response)
}

/// What the middleware reads from a request before serving it.
struct Arrived {
    /// The request's trace: its server span's ids when there is one.
    trace: TraceContext,
    server_span: Option<Traced>,
    request_id: String,
    /// The time the request may take: the caller's deadline within this server's limit.
    budget: Duration,
    route: Arc<str>,
    method: &'static str,
}

impl Arrived {
    /// The caller's trace, request id and deadline (made up when absent or invalid), and the
    /// route and method as metric labels.
    fn read(shared: &Shared, request: &Request) -> Arrived {
        let headers = request.headers();
        let trace = headers
            .get(trace_context::HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(TraceContext::from_traceparent)
            .unwrap_or_else(TraceContext::new_root);
        let request_id = headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128 && v.is_ascii())
            .map(str::to_owned)
            // A thread-local generator: no system call per request, unlike `Uuid::new_v4`.
            .unwrap_or_else(|| trace_context::hex(&rand::random::<[u8; 16]>()));
        let budget = headers
            .get(DEADLINE_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(context::parse_deadline_ms)
            .map_or(shared.limits.max_request_time, |d| {
                d.min(shared.limits.max_request_time)
            });
        let route = shared.route_label(
            request
                .extensions()
                .get::<MatchedPath>()
                .map_or("unmatched", MatchedPath::as_str),
        );
        let method = method_label(request.method());
        let (server_span, trace) = match &shared.tracer {
            Some(tracer) if !routes::is_exempt(&route) && !routes::is_long_poll(&route) => {
                let (span, trace) =
                    tracer.server_span(&trace, method, &route, request.uri().path());
                (Some(span), trace)
            }
            _ => (None, trace),
        };
        Arrived {
            trace,
            server_span,
            request_id,
            budget,
            route,
            method,
        }
    }

    /// The span every log line of the request is in.
    fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "request",
            trace_id = %self.trace.trace_id_hex(),
            span_id = %self.trace.span_id_hex(),
            request_id = %self.request_id,
            method = %self.method,
            route = %self.route,
        )
    }

    fn route_labels(&self) -> RouteLabels {
        RouteLabels {
            route: self.route.clone(),
            method: self.method,
        }
    }

    /// Tells the caller the request id and trace its request was served under.
    fn stamp(&self, response: &mut Response) {
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&self.request_id) {
            headers.insert(REQUEST_ID_HEADER, value);
        }
        // From the `String` itself: its bytes become the header's, uncopied.
        if let Ok(value) = HeaderValue::try_from(self.trace.to_traceparent()) {
            headers.insert(trace_context::HEADER, value);
        }
    }
}

impl Shared {
    /// A place under the concurrency limit, or `None` (counted) when the request is shed.
    fn admit(&self, arrived: &Arrived) -> Option<shedding::Admitted> {
        let admitted = self.limiter.try_admit(&arrived.route);
        if admitted.is_none() {
            self.metrics
                .server
                .shed
                .get_or_create(&arrived.route_labels())
                .inc();
        }
        admitted
    }

    /// Records the outcome of a served (or shed) request: RED metrics, and a log line.
    fn record(
        &self,
        arrived: &Arrived,
        status: StatusCode,
        elapsed: Duration,
        shed: bool,
        span: &tracing::Span,
    ) {
        let server = &self.metrics.server;
        server
            .duration
            .get_or_create(&arrived.route_labels())
            .observe(
                elapsed.as_secs_f64(),
                crate::metrics::exemplar(&arrived.trace),
                None,
            );
        let status_labels = RouteStatusLabels {
            route: arrived.route.clone(),
            method: arrived.method,
            status: status.as_u16(),
        };
        server.requests.get_or_create(&status_labels).inc();
        if status.is_server_error() {
            server.errors.get_or_create(&status_labels).inc();
        }
        // Refusals are counted (`http_server_shed_requests`), not warned about one by one: under
        // overload a log line per refusal would only add to the load.
        if status.is_server_error() && !shed {
            span.in_scope(|| {
                tracing::warn!(
                    status = status.as_u16(),
                    elapsed_ms = elapsed.as_millis() as u64,
                    "served with an error"
                )
            });
        } else {
            // At info, so that every service a request crossed has a line of it in the log
            // stream (`brigade logs --trace`); `brigade bench telemetry` measures its price.
            span.in_scope(|| {
                tracing::info!(
                    status = status.as_u16(),
                    elapsed_ms = elapsed.as_millis() as u64,
                    "served"
                )
            });
        }
    }
}

/// Serves the request, or answers `504` (shown as `page` when there is one) when it does not
/// finish within `budget`.
async fn serve_within<S>(
    budget: Duration,
    inner: S,
    request: Request,
    page: Option<&ProblemPage>,
) -> Response
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    match tokio::time::timeout(budget, inner.oneshot(request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(never)) => match never {},
        Err(_) => {
            let problem = Problem::deadline_exceeded(format!(
                "the request did not finish within its deadline of {} ms",
                budget.as_millis()
            ));
            ProblemPage::answer(page, problem)
        }
    }
}

/// `router` with response headers: `fixed` on every answer (replacing the handler's), and
/// `defaults` where the handler set none. The edges' security headers (`X-Content-Type-Options`,
/// `Content-Security-Policy`, …), each edge with its own values.
pub fn with_headers(
    router: Router,
    fixed: &[(http::HeaderName, &'static str)],
    defaults: &[(http::HeaderName, &'static str)],
) -> Router {
    use tower_http::set_header::SetResponseHeaderLayer;
    let router = defaults.iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::if_not_present(
            name.clone(),
            HeaderValue::from_static(value),
        ))
    });
    fixed.iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::overriding(
            name.clone(),
            HeaderValue::from_static(value),
        ))
    })
}

/// True for statuses a client may retry on another instance without knowing the method.
pub fn is_overload(status: StatusCode) -> bool {
    status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS
}
