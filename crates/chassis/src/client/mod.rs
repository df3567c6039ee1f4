//! The resilient client: the only way a Brigade service calls another.
//!
//! A [`ServiceClient`] is bound to one destination service. Each call resolves the service's
//! instances through discovery, picks one (power of two choices), carries the caller's trace
//! context, request id and remaining deadline, records RED metrics for the dependency, and tries
//! another instance when one refuses the connection (the request was never sent, so this is safe
//! for any method) or, for idempotent methods, when the connection fails mid-request.
//!
//! Each client also applies its dependency's [`Policy`] (promise 6: failure stays local):
//! - retries of idempotent calls (or calls with an `Idempotency-Key`) after a 5xx or a lost
//!   connection, with exponential backoff and full jitter ([`Backoff`]), within a retry budget per
//!   destination ([`BudgetPolicy`]), never after a 4xx, honouring a 429's or 503's
//!   `Retry-After`, and never past the deadline;
//! - a circuit breaker ([`BreakerPolicy`]) that fails calls at once while the dependency fails;
//! - a bulkhead ([`BulkheadPolicy`]) bounding the calls in flight;
//! - outlier ejection ([`EjectionPolicy`]) of instances that keep failing.
//!
//! A dependency the caller can do without is called through [`ServiceClient::optional`].

mod availability;
mod backoff;
mod balancer;
mod breaker;
mod budget;
mod bulkhead;
pub mod plain;
mod policy;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::time::Instant;

pub use availability::{Availability, OptionalClient};
pub use balancer::{Balancer, Lease};
pub use breaker::State as BreakerState;
pub use policy::{
    Backoff, BreakerPolicy, BudgetPolicy, BulkheadPolicy, EjectionPolicy, Policy, RetryPolicy,
};

use crate::context::{self, DEADLINE_HEADER, IDEMPOTENCY_KEY_HEADER, REQUEST_ID_HEADER};
use crate::discovery::Resolver;
use crate::metrics::{
    ClientMetrics, DependencyLabels, DependencyOutcomeLabels, Outcome, RejectionLabels,
};
use crate::problem::Problem;
use crate::trace_context::{self, TraceContext};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

use breaker::{Breaker, Verdict};
use budget::RetryBudget;
use bulkhead::Bulkhead;

/// Why no call was made to a dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailability {
    /// Discovery knows no instance of it.
    NoInstance,
    /// Its circuit breaker is open: it has been failing, and calls are paused.
    CircuitOpen,
    /// Its bulkhead is full: as many calls as allowed are already in flight.
    Saturated,
}

impl std::fmt::Display for Unavailability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unavailability::NoInstance => "no instance is available",
            Unavailability::CircuitOpen => "its circuit breaker is open",
            Unavailability::Saturated => "too many calls to it are in flight",
        })
    }
}

/// Why a call to another service failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{service} is unavailable: {reason}")]
    Unavailable {
        service: String,
        reason: Unavailability,
    },
    #[error("{service} did not answer within the deadline ({budget_ms} ms)")]
    Timeout { service: String, budget_ms: u64 },
    #[error("calling {service} at {address} failed: {reason}")]
    Transport {
        service: String,
        address: SocketAddr,
        reason: String,
        /// Whether any attempt of the call may have reached the service (false: every attempt
        /// failed to connect, so the service certainly did nothing).
        maybe_delivered: bool,
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
            Error::Unavailable {
                service,
                reason: Unavailability::NoInstance,
            } => {
                Problem::service_unavailable(format!("{service} is unavailable; try again shortly"))
            }
            Error::Unavailable { service, reason } => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "dependency-unavailable",
                "Dependency unavailable",
                format!("{service} cannot be called now ({reason}); try again shortly"),
            )
            .with("dependency", service.as_str()),
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

    /// The caller's own mistake rather than the dependency's failure: a 4xx answer, or a
    /// request that could not be built.
    pub fn is_callers_fault(&self) -> bool {
        match self {
            Error::Status { problem, .. } => problem.status_code().is_client_error(),
            Error::Request { .. } => true,
            _ => false,
        }
    }

    /// The call certainly never reached the dependency: refused before sending (no instance,
    /// open breaker, full bulkhead, unbuildable request) or every attempt failed to connect. A
    /// caller may then treat a non-idempotent call as not made, e.g. cancel instead of waiting
    /// to learn an outcome that cannot exist.
    pub fn certainly_not_delivered(&self) -> bool {
        match self {
            Error::Unavailable { .. } | Error::Request { .. } => true,
            Error::Transport {
                maybe_delivered, ..
            } => !maybe_delivered,
            Error::Timeout { .. } | Error::Status { .. } | Error::Decode { .. } => false,
        }
    }

    /// The dependency answered 404.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Status { problem, .. } if problem.status == 404)
    }
}

/// Settings of a [`ServiceClient`]. Its resilience [`Policy`] is set with
/// [`ServiceClient::with_policy`].
#[derive(Debug, Clone)]
pub struct Options {
    /// The longest a call may take: the whole budget when the caller has no deadline of its
    /// own, a cap on it when the caller's deadline is further away.
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
    policy: Policy,
    breaker: Breaker,
    budget: RetryBudget,
    bulkhead: Bulkhead,
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
    /// A client for `service` with the default [`Policy`].
    pub fn new(
        service: &str,
        resolver: Resolver,
        metrics: ClientMetrics,
        options: Options,
    ) -> ServiceClient {
        ServiceClient::build(service, resolver, metrics, options, Policy::default())
    }

    /// This client's dependency with `policy` instead, e.g.
    /// `ctx.client("recommendations").with_policy(policy)`. Set it when building the service:
    /// the new client starts with a closed breaker, a full budget and no ejections.
    pub fn with_policy(self, policy: Policy) -> ServiceClient {
        let inner = &*self.inner;
        ServiceClient::build(
            &inner.service,
            inner.resolver.clone(),
            inner.metrics.clone(),
            inner.options.clone(),
            policy,
        )
    }

    /// The same dependency as one the caller can do without: its answers are an
    /// [`Availability`] that the caller must handle.
    pub fn optional(&self) -> OptionalClient {
        OptionalClient::new(self.clone())
    }

    /// The same dependency with calls capped at `timeout` whatever the caller's deadline: for a
    /// part of an answer that is worth waiting for only briefly (a product page's
    /// recommendations), so that a slow dependency costs at most `timeout` and, counted as
    /// failures, opens its breaker.
    pub fn with_timeout(self, timeout: Duration) -> ServiceClient {
        let inner = &*self.inner;
        ServiceClient::build(
            &inner.service,
            inner.resolver.clone(),
            inner.metrics.clone(),
            Options {
                default_timeout: timeout,
            },
            inner.policy,
        )
    }

    /// Why a call made now would be refused without being sent, if it would: discovery knows
    /// no instance, or the breaker is open. Costs no call; lets a caller refuse work that needs
    /// this dependency before starting it (a checkout while payments is down).
    pub fn unavailable_now(&self) -> Option<Error> {
        let inner = &*self.inner;
        let reason = if inner.breaker.state() == BreakerState::Open {
            Unavailability::CircuitOpen
        } else {
            let endpoints = inner
                .endpoints
                .get_or_init(|| inner.resolver.watch(&inner.service));
            // Not resolved yet is not "none": the first call waits for discovery.
            match &*endpoints.borrow() {
                Some(list) if list.is_empty() => Unavailability::NoInstance,
                _ => return None,
            }
        };
        Some(Error::Unavailable {
            service: inner.service.clone(),
            reason,
        })
    }

    /// This client's resilience policy.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The state of this client's circuit breaker.
    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    fn build(
        service: &str,
        resolver: Resolver,
        metrics: ClientMetrics,
        options: Options,
        policy: Policy,
    ) -> ServiceClient {
        let labels = DependencyLabels {
            dependency: Arc::from(service),
        };
        let in_flight = metrics.in_flight.get_or_create(&labels).clone();
        let duration = metrics.duration.get_or_create(&labels).clone();
        let retries = metrics.retries.get_or_create(&labels).clone();
        let breaker = Breaker::new(
            policy.breaker,
            labels.dependency.clone(),
            metrics.breaker_state.get_or_create(&labels).clone(),
            metrics.breaker_transitions.clone(),
        );
        let balancer = Balancer::new(
            policy.ejection,
            metrics.ejections.get_or_create(&labels).clone(),
        );
        ServiceClient {
            inner: Arc::new(Inner {
                service: service.to_owned(),
                resolver,
                http: plain::hyper_client(),
                balancer,
                in_flight,
                duration,
                retries,
                dependency: labels.dependency,
                metrics,
                options,
                breaker,
                budget: RetryBudget::new(policy.retry.budget),
                bulkhead: Bulkhead::new(policy.bulkhead),
                policy,
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
        } else if let Some(_slot) = inner.bulkhead.try_enter() {
            self.call_through_breaker(
                &method,
                path_and_query,
                body,
                headers,
                caller.as_ref(),
                started + budget,
                budget,
            )
            .await
        } else {
            tracing::debug!(service = %inner.service, limit = inner.bulkhead.limit(), "bulkhead full; call refused");
            self.reject("bulkhead_full");
            Err(Error::Unavailable {
                service: inner.service.clone(),
                reason: Unavailability::Saturated,
            })
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

    /// One call, counted by the circuit breaker: whether it succeeds is decided over all its
    /// attempts, so that one failing instance among healthy ones does not open the breaker of
    /// the whole dependency.
    #[allow(clippy::too_many_arguments)]
    async fn call_through_breaker(
        &self,
        method: &Method,
        path_and_query: &str,
        body: Option<Bytes>,
        headers: &HeaderMap,
        caller: Option<&context::RequestContext>,
        deadline: Instant,
        budget: Duration,
    ) -> Result<Answer, Error> {
        let inner = &*self.inner;
        let Ok(permit) = inner.breaker.try_acquire() else {
            self.reject("breaker_open");
            return Err(Error::Unavailable {
                service: inner.service.clone(),
                reason: Unavailability::CircuitOpen,
            });
        };
        // Each attempt is bounded by the deadline itself; this bounds the wait for discovery.
        let result = match tokio::time::timeout_at(
            deadline,
            self.call_instances(
                method,
                path_and_query,
                body,
                headers,
                caller,
                deadline,
                budget,
            ),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(self.timeout_error(budget)),
        };
        permit.record(match &result {
            Ok(_) => Verdict::Success,
            // A 4xx is the caller's mistake: the dependency is working.
            Err(error) if error.is_callers_fault() => Verdict::Success,
            // Nothing was sent: there is nothing to protect, and "no instance" is the better
            // answer to give while it lasts.
            Err(Error::Unavailable { .. }) => Verdict::Ignored,
            Err(_) => Verdict::Failure,
        });
        result
    }

    fn timeout_error(&self, budget: Duration) -> Error {
        Error::Timeout {
            service: self.inner.service.clone(),
            budget_ms: budget.as_millis() as u64,
        }
    }

    fn reject(&self, reason: &'static str) {
        self.inner
            .metrics
            .rejected
            .get_or_create(&RejectionLabels {
                dependency: self.inner.dependency.clone(),
                reason,
            })
            .inc();
    }

    fn transport_error(
        &self,
        address: SocketAddr,
        reason: impl ToString,
        maybe_delivered: bool,
    ) -> Error {
        Error::Transport {
            service: self.inner.service.clone(),
            address,
            reason: reason.to_string(),
            maybe_delivered,
        }
    }

    /// Tries instances until one answers, the policy allows no more retries, or the deadline.
    #[allow(clippy::too_many_arguments)]
    async fn call_instances(
        &self,
        method: &Method,
        path_and_query: &str,
        body: Option<Bytes>,
        headers: &HeaderMap,
        caller: Option<&context::RequestContext>,
        deadline: Instant,
        budget: Duration,
    ) -> Result<Answer, Error> {
        let inner = &*self.inner;
        let retry = &inner.policy.retry;
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
        inner.budget.deposit();
        let mut tried: Vec<SocketAddr> = Vec::new();
        let mut last_error = None;
        // Whether any attempt so far may have reached an instance (see
        // `Error::certainly_not_delivered`).
        let mut maybe_delivered = false;
        // The wait before the next attempt: none to go to another instance at once.
        let mut pause = Duration::ZERO;
        for attempt in 0..retry.max_attempts.max(1) {
            if attempt > 0 {
                if Instant::now() + pause >= deadline {
                    // The retry could not finish in time: the caller gets the failure now.
                    break;
                }
                if !inner.budget.try_withdraw() {
                    tracing::debug!(service = %inner.service, "retry budget spent; not retrying");
                    inner
                        .metrics
                        .retry_budget_exhausted
                        .get_or_create(&DependencyLabels {
                            dependency: inner.dependency.clone(),
                        })
                        .inc();
                    break;
                }
                tokio::time::sleep(pause).await;
            }
            // A retry goes to an instance not tried yet when there is one; a repeatable call may
            // go back to one (after its backoff) when there is not.
            let lease = match inner.balancer.pick(&endpoints, &tried) {
                Some(lease) => lease,
                None if repeatable && attempt > 0 => match inner.balancer.pick(&endpoints, &[]) {
                    Some(lease) => lease,
                    None => break,
                },
                None => break,
            };
            if attempt > 0 {
                inner.retries.inc();
            }
            if !tried.contains(&lease.address) {
                tried.push(lease.address);
            }
            let untried_left = endpoints.iter().any(|e| !tried.contains(&e.address));
            let retry_number = attempt + 1;
            // A read with another instance to go to gets half of what is left, so that an
            // instance that accepts but never answers (frozen, overloaded) leaves time to ask
            // another one instead of taking the caller's whole deadline. Only reads: a keyed
            // write (a checkout, a charge) may legitimately take long, and asking a second
            // instance meanwhile would only meet the first attempt's "request in progress".
            let attempt_deadline = if is_safe(method) && untried_left {
                let now = Instant::now();
                now + deadline.saturating_duration_since(now) / 2
            } else {
                deadline
            };
            let mut request = self.build_request(
                method,
                lease.address,
                path_and_query,
                body.clone(),
                &trace,
                caller,
                attempt_deadline,
            )?;
            for (name, value) in headers {
                request.headers_mut().insert(name, value.clone());
            }
            let response = match tokio::time::timeout_at(
                attempt_deadline,
                inner.http.request(request),
            )
            .await
            {
                Ok(response) => response,
                Err(_) if attempt_deadline < deadline => {
                    tracing::debug!(service = %inner.service, address = %lease.address, "no answer within the attempt's share of the deadline; trying another instance");
                    lease.failed();
                    maybe_delivered = true;
                    last_error = Some(self.timeout_error(budget));
                    pause = Duration::ZERO;
                    continue;
                }
                Err(_) => {
                    lease.failed();
                    return Err(self.timeout_error(budget));
                }
            };
            match response {
                Ok(response) => {
                    maybe_delivered = true;
                    let (parts, body) = response.into_parts();
                    let (status, headers) = (parts.status, parts.headers);
                    let read = tokio::time::timeout_at(
                        deadline,
                        Limited::new(body, plain::MAX_RESPONSE_BYTES).collect(),
                    )
                    .await;
                    let body = match read {
                        Ok(Ok(collected)) => collected.to_bytes(),
                        Ok(Err(e)) => {
                            lease.failed();
                            return Err(self.transport_error(lease.address, e, true));
                        }
                        Err(_) => {
                            lease.failed();
                            return Err(self.timeout_error(budget));
                        }
                    };
                    if status.is_server_error() {
                        lease.failed();
                    } else {
                        lease.succeeded();
                    }
                    if status.is_success() {
                        return Ok(Answer {
                            status,
                            headers,
                            body,
                        });
                    }
                    let error = Error::Status {
                        service: inner.service.clone(),
                        problem: Box::new(problem_from(status, &body)),
                    };
                    let retry_after = retry_after(&headers);
                    pause = match (status, retry_after) {
                        _ if !repeatable => return Err(error),
                        (
                            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE,
                            Some(wait),
                        ) => {
                            if wait > retry.max_retry_after {
                                return Err(error);
                            }
                            wait
                        }
                        (
                            StatusCode::INTERNAL_SERVER_ERROR
                            | StatusCode::BAD_GATEWAY
                            | StatusCode::SERVICE_UNAVAILABLE
                            | StatusCode::GATEWAY_TIMEOUT,
                            _,
                        ) => retry.backoff.delay(retry_number),
                        _ => return Err(error),
                    };
                    tracing::debug!(service = %inner.service, address = %lease.address, %status, "retrying");
                    last_error = Some(error);
                }
                Err(error) if error.is_connect() || repeatable => {
                    // Either nothing was sent (safe whatever the method), or the request may be
                    // sent twice without harm, e.g. a GET over a pooled connection to an instance
                    // that has just died.
                    maybe_delivered |= !error.is_connect();
                    lease.transport_failed();
                    if !repeatable && !untried_left {
                        // Only another instance may be tried for a call that is not repeatable.
                        return Err(self.transport_error(lease.address, error, maybe_delivered));
                    }
                    tracing::debug!(service = %inner.service, address = %lease.address, %error, "instance failed; trying another");
                    pause = if untried_left {
                        Duration::ZERO
                    } else {
                        retry.backoff.delay(retry_number)
                    };
                    last_error = Some(self.transport_error(lease.address, error, maybe_delivered));
                }
                Err(error) => {
                    lease.failed();
                    return Err(self.transport_error(lease.address, error, true));
                }
            }
        }
        Err(last_error.unwrap_or_else(|| Error::Unavailable {
            service: inner.service.clone(),
            reason: Unavailability::NoInstance,
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
/// Methods that only read: asking a second instance costs nothing but the work.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

/// The wait a 429 or 503 asks for in `Retry-After`, in its delay-seconds form (the one services
/// send; an HTTP date is not waited for).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
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
