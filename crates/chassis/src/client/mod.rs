//! The resilient client: the only way a Brigade service calls another.
//!
//! A [`ServiceClient`] is bound to one destination service. Each call resolves the service's
//! instances through discovery, picks one (power of two choices), carries the caller's trace
//! context, request id and remaining deadline, records RED metrics for the dependency, and tries
//! another instance when one refuses the connection (the request was never sent, so this is safe
//! for any method) or, for idempotent methods, when the connection fails mid-request.

mod balancer;
pub mod plain;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::time::Instant;

pub use balancer::Balancer;

use crate::context::{self, DEADLINE_HEADER, IDEMPOTENCY_KEY_HEADER, REQUEST_ID_HEADER};
use crate::discovery::Resolver;
use crate::metrics::{ClientMetrics, DependencyLabels, DependencyOutcomeLabels, Outcome};
use crate::problem::Problem;
use crate::trace_context::{self, TraceContext};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

/// How many distinct instances one call may try when connections fail.
const MAX_CONNECT_ATTEMPTS: usize = 3;

/// Why a call to another service failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no instance of {service} is available")]
    Unavailable { service: String },
    #[error("{service} did not answer within the deadline ({budget_ms} ms)")]
    Timeout { service: String, budget_ms: u64 },
    #[error("calling {service} at {address} failed: {reason}")]
    Transport {
        service: String,
        address: SocketAddr,
        reason: String,
    },
    #[error("{service} answered {}: {}", problem.status, problem.detail)]
    Status {
        service: String,
        problem: Box<Problem>,
    },
    #[error("{service} answered with a body that could not be read: {reason}")]
    Decode { service: String, reason: String },
    #[error("cannot build the request to {service}: {reason}")]
    Request { service: String, reason: String },
}

impl Error {
    /// The problem a caller should answer with when this call was essential to its answer:
    /// a dependency's 4xx is the caller's client's fault and passes through as it is; anything
    /// else becomes a 5xx naming the dependency, without internals.
    pub fn to_problem(&self) -> Problem {
        match self {
            Error::Status { problem, .. } if problem.status_code().is_client_error() => {
                let mut passed = (**problem).clone();
                passed.trace_id = context::current().map(|c| c.trace.trace_id_hex());
                passed
            }
            Error::Status { service, problem } => {
                Problem::bad_gateway(format!("{service} failed ({})", problem.status))
            }
            Error::Unavailable { service } => {
                Problem::service_unavailable(format!("{service} is unavailable; try again shortly"))
            }
            Error::Timeout { service, budget_ms } => Problem::deadline_exceeded(format!(
                "{service} did not answer within {budget_ms} ms"
            )),
            Error::Transport { service, .. } => Problem::service_unavailable(format!(
                "{service} could not be reached; try again shortly"
            )),
            Error::Decode { service, .. } => {
                Problem::bad_gateway(format!("{service} answered with an unreadable body"))
            }
            Error::Request { .. } => Problem::internal(),
        }
    }

    /// The dependency answered 404.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Status { problem, .. } if problem.status == 404)
    }
}

/// Settings of a [`ServiceClient`].
#[derive(Debug, Clone)]
pub struct Options {
    /// The longest a call may take when the caller has no deadline of its own.
    pub default_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            default_timeout: Duration::from_secs(5),
        }
    }
}

struct Inner {
    service: String,
    resolver: Resolver,
    http: plain::HyperClient,
    balancer: Balancer,
    metrics: ClientMetrics,
    options: Options,
    /// This dependency's series, looked up once rather than on every call.
    in_flight: Gauge,
    duration: Histogram,
    retries: Counter,
    dependency: Arc<str>,
    /// The resolver's watch for this service, looked up once.
    endpoints: std::sync::OnceLock<tokio::sync::watch::Receiver<crate::discovery::Endpoints>>,
}

/// A client for one destination service; cheap to clone.
#[derive(Clone)]
pub struct ServiceClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceClient")
            .field("service", &self.inner.service)
            .finish_non_exhaustive()
    }
}

/// An answer from a dependency: status, headers and body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl ServiceClient {
    pub fn new(
        service: &str,
        resolver: Resolver,
        metrics: ClientMetrics,
        options: Options,
    ) -> ServiceClient {
        let labels = DependencyLabels {
            dependency: Arc::from(service),
        };
        let in_flight = metrics.in_flight.get_or_create(&labels).clone();
        let duration = metrics.duration.get_or_create(&labels).clone();
        let retries = metrics.retries.get_or_create(&labels).clone();
        ServiceClient {
            inner: Arc::new(Inner {
                service: service.to_owned(),
                resolver,
                http: plain::hyper_client(),
                balancer: Balancer::default(),
                in_flight,
                duration,
                retries,
                dependency: labels.dependency,
                metrics,
                options,
                endpoints: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The destination service's name.
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// GET `path_and_query` and decode a 2xx JSON answer.
    pub async fn get_json<T: DeserializeOwned>(&self, path_and_query: &str) -> Result<T, Error> {
        let answer = self.call(Method::GET, path_and_query, None).await?;
        self.decode(answer)
    }

    /// POST `body` as JSON to `path` and decode a 2xx JSON answer.
    pub async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        let body = serde_json::to_vec(body).map_err(|e| Error::Request {
            service: self.inner.service.clone(),
            reason: e.to_string(),
        })?;
        let answer = self
            .call(Method::POST, path, Some(Bytes::from(body)))
            .await?;
        self.decode(answer)
    }

    /// Sends `body` (if any) as JSON with `method` and extra `headers` (e.g. the caller's
    /// `Authorization`, an `Idempotency-Key`), and decodes a 2xx JSON answer.
    pub async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        headers: &HeaderMap,
    ) -> Result<T, Error> {
        let body = match body {
            Some(body) => Some(Bytes::from(serde_json::to_vec(body).map_err(|e| {
                Error::Request {
                    service: self.inner.service.clone(),
                    reason: e.to_string(),
                }
            })?)),
            None => None,
        };
        let answer = self.call_with_headers(method, path, body, headers).await?;
        self.decode(answer)
    }

    fn decode<T: DeserializeOwned>(&self, answer: Answer) -> Result<T, Error> {
        serde_json::from_slice(&answer.body).map_err(|e| Error::Decode {
            service: self.inner.service.clone(),
            reason: e.to_string(),
        })
    }

    /// Sends one request and returns a 2xx answer; a non-2xx answer is [`Error::Status`] with
    /// the dependency's problem document.
    pub async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Bytes>,
    ) -> Result<Answer, Error> {
        self.call_with_headers(method, path_and_query, body, &HeaderMap::new())
            .await
    }

    /// [`ServiceClient::call`] with extra request headers. A request carrying an
    /// `Idempotency-Key` counts as idempotent: it is tried on another instance when the
    /// connection fails mid-request, because the destination applies it once.
    pub async fn call_with_headers(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Bytes>,
        headers: &HeaderMap,
    ) -> Result<Answer, Error> {
        let inner = &*self.inner;
        let started = Instant::now();
        let caller = context::current();
        let budget = caller.as_ref().map_or(inner.options.default_timeout, |c| {
            c.remaining().min(inner.options.default_timeout)
        });
        inner.in_flight.inc();
        let result = if budget.is_zero() {
            Err(self.timeout_error(budget))
        } else {
            match tokio::time::timeout(
                budget,
                self.call_instances(
                    &method,
                    path_and_query,
                    body,
                    headers,
                    caller.as_ref(),
                    started + budget,
                ),
            )
            .await
            {
                Ok(result) => result,
                Err(_) => Err(self.timeout_error(budget)),
            }
        };
        inner.in_flight.dec();
        let outcome = match &result {
            Ok(answer) => Outcome::Status(answer.status.as_u16()),
            Err(Error::Status { problem, .. }) => Outcome::Status(problem.status),
            Err(Error::Unavailable { .. }) => Outcome::Unavailable,
            Err(Error::Timeout { .. }) => Outcome::Timeout,
            Err(Error::Transport { .. }) => Outcome::Transport,
            Err(Error::Decode { .. }) => Outcome::Decode,
            Err(Error::Request { .. }) => Outcome::Request,
        };
        inner
            .metrics
            .requests
            .get_or_create(&DependencyOutcomeLabels {
                dependency: inner.dependency.clone(),
                outcome,
            })
            .inc();
        inner.duration.observe(started.elapsed().as_secs_f64());
        result
    }

    fn timeout_error(&self, budget: Duration) -> Error {
        Error::Timeout {
            service: self.inner.service.clone(),
            budget_ms: budget.as_millis() as u64,
        }
    }

    async fn call_instances(
        &self,
        method: &Method,
        path_and_query: &str,
        body: Option<Bytes>,
        headers: &HeaderMap,
        caller: Option<&context::RequestContext>,
        deadline: Instant,
    ) -> Result<Answer, Error> {
        let inner = &*self.inner;
        let repeatable = is_idempotent(method) || headers.contains_key(IDEMPOTENCY_KEY_HEADER);
        let mut endpoints_rx = inner
            .endpoints
            .get_or_init(|| inner.resolver.watch(&inner.service))
            .clone();
        // The first call may come before discovery has answered: wait for it, within the deadline.
        let endpoints = match endpoints_rx.wait_for(Option::is_some).await {
            Ok(list) => list.clone().unwrap_or_else(|| Arc::from(Vec::new())),
            Err(_) => Arc::from(Vec::new()),
        };
        let trace = caller.map_or_else(TraceContext::new_root, |c| c.trace.child());
        let mut tried: Vec<SocketAddr> = Vec::new();
        let mut last_error = None;
        for attempt in 0..MAX_CONNECT_ATTEMPTS {
            let Some(lease) = inner.balancer.pick(&endpoints, &tried) else {
                break;
            };
            if attempt > 0 {
                inner.retries.inc();
            }
            tried.push(lease.address);
            let mut request = self.build_request(
                method,
                lease.address,
                path_and_query,
                body.clone(),
                &trace,
                caller,
                deadline,
            )?;
            for (name, value) in headers {
                request.headers_mut().insert(name, value.clone());
            }
            match inner.http.request(request).await {
                Ok(response) => {
                    let (parts, body) = response.into_parts();
                    let (status, headers) = (parts.status, parts.headers);
                    let body = Limited::new(body, plain::MAX_RESPONSE_BYTES)
                        .collect()
                        .await
                        .map_err(|e| Error::Transport {
                            service: inner.service.clone(),
                            address: lease.address,
                            reason: e.to_string(),
                        })?
                        .to_bytes();
                    if status.is_success() {
                        return Ok(Answer {
                            status,
                            headers,
                            body,
                        });
                    }
                    return Err(Error::Status {
                        service: inner.service.clone(),
                        problem: Box::new(problem_from(status, &body)),
                    });
                }
                Err(error) if error.is_connect() || repeatable => {
                    // Either nothing was sent (safe whatever the method), or the request may be
                    // sent twice without harm, e.g. a GET over a pooled connection to an instance
                    // that has just died.
                    lease.transport_failed();
                    tracing::debug!(service = %inner.service, address = %lease.address, %error, "instance failed; trying another");
                    last_error = Some(Error::Transport {
                        service: inner.service.clone(),
                        address: lease.address,
                        reason: error.to_string(),
                    });
                }
                Err(error) => {
                    return Err(Error::Transport {
                        service: inner.service.clone(),
                        address: lease.address,
                        reason: error.to_string(),
                    })
                }
            }
        }
        Err(last_error.unwrap_or_else(|| Error::Unavailable {
            service: inner.service.clone(),
        }))
    }

    #[allow(clippy::too_many_arguments)]
    fn build_request(
        &self,
        method: &Method,
        address: SocketAddr,
        path_and_query: &str,
        body: Option<Bytes>,
        trace: &TraceContext,
        caller: Option<&context::RequestContext>,
        deadline: Instant,
    ) -> Result<Request<Full<Bytes>>, Error> {
        let remaining_ms = deadline
            .saturating_duration_since(Instant::now())
            .as_millis()
            .max(1);
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(format!("http://{address}{path_and_query}"))
            .header(header::ACCEPT, "application/json")
            .header(trace_context::HEADER, trace.to_traceparent())
            .header(DEADLINE_HEADER, remaining_ms.to_string());
        if let Some(id) = caller.and_then(|c| HeaderValue::from_str(&c.request_id).ok()) {
            builder = builder.header(REQUEST_ID_HEADER, id);
        }
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| Error::Request {
                service: self.inner.service.clone(),
                reason: e.to_string(),
            })
    }
}

/// Methods that HTTP defines as safe to repeat (RFC 9110, section 9.2.2).
fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

/// The dependency's problem document, or one made up from the status when the body is not one.
fn problem_from(status: StatusCode, body: &[u8]) -> Problem {
    serde_json::from_slice::<Problem>(body).unwrap_or_else(|_| {
        Problem::new(
            status,
            "upstream-error",
            "Upstream error",
            format!(
                "answered {status} without a problem document: {}",
                String::from_utf8_lossy(body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ),
        )
    })
}
