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
mod call;
mod colocated;
/// Kept at its former path for callers outside the chassis; it lives below both the client and
/// discovery, which use it.
pub use crate::plain;
mod policy;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::time::Instant;

pub use availability::{Availability, OptionalClient};
pub use balancer::{Balancer, Lease};
pub use breaker::State as BreakerState;
pub use colocated::{handler as colocated_handler, Colocated, Handler as ColocatedHandler};
pub use policy::{
    Backoff, BreakerPolicy, BudgetPolicy, BulkheadPolicy, EjectionPolicy, Policy, RetryPolicy,
};

use crate::context::{self, RequestContext};
use crate::discovery::Resolver;
use crate::identity::Identity;
use crate::metrics::{
    ClientMetrics, DependencyLabels, DependencyOutcomeLabels, Outcome, RejectionLabels,
};
use crate::problem::Problem;
use crate::telemetry::ClientOutcome;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use breaker::Breaker;
use budget::RetryBudget;
use bulkhead::Bulkhead;
use call::Call;

/// Why no call was made to a dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailability {
    /// Discovery knows no instance of it.
    NoInstance,
    /// Its circuit breaker is open: it has been failing, and calls are paused.
    CircuitOpen,
    /// Its bulkhead is full: as many calls as allowed are already in flight.
    Saturated,
    /// This process has no identity token to present to it (the authority cannot be reached).
    NoIdentity,
}

impl std::fmt::Display for Unavailability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unavailability::NoInstance => "no instance is available",
            Unavailability::CircuitOpen => "its circuit breaker is open",
            Unavailability::Saturated => "too many calls to it are in flight",
            Unavailability::NoIdentity => "this service has no identity to present to it",
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

/// A failed call answers as [`Error::to_problem`] says, so that a handler whose answer needs the
/// call can pass its failure on with `?`.
impl From<Error> for Problem {
    fn from(error: Error) -> Problem {
        error.to_problem()
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
    http: plain::ServiceHyperClient,
    /// Instances served in this process, called without a socket (`brigade up --colocate`).
    colocated: Option<Colocated>,
    /// This process's identity, presented on every call ([`crate::identity::HEADER`]).
    identity: Option<Identity>,
    balancer: Balancer,
    metrics: ClientMetrics,
    options: Options,
    policy: Policy,
    breaker: Breaker,
    budget: RetryBudget,
    bulkhead: Bulkhead,
    /// This dependency's series, looked up once rather than on every call.
    in_flight: Gauge,
    duration: crate::metrics::LatencyHistogram,
    retries: Counter,
    /// Attempts made in-process (`colocated`).
    in_process: Counter,
    dependency: Arc<str>,
    /// The resolver's watch for this service, looked up once.
    endpoints: std::sync::OnceLock<tokio::sync::watch::Receiver<crate::discovery::Endpoints>>,
}

/// How a client's calls travel and what they carry besides the request: the in-process
/// transport, and the caller's identity.
#[derive(Default)]
struct Transport {
    colocated: Option<Colocated>,
    identity: Option<Identity>,
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
        ServiceClient::build(
            service,
            resolver,
            metrics,
            options,
            Policy::default(),
            Transport::default(),
        )
    }

    /// This client's dependency, every call carrying `identity`'s token for it
    /// ([`crate::identity::HEADER`]). A service's clients get it from the chassis
    /// ([`crate::service::Context::client`]).
    pub fn with_identity(self, identity: Identity) -> ServiceClient {
        let colocated = self.inner.colocated.clone();
        self.with_transport(Transport {
            colocated,
            identity: Some(identity),
        })
    }

    /// This client's dependency, calling the instances that `colocated` serves in this process
    /// in-process rather than over HTTP; everything else (discovery, balancing, policies,
    /// tracing) is unchanged. Set it when building the service, as [`ServiceClient::with_policy`].
    pub fn colocated(self, colocated: Colocated) -> ServiceClient {
        let identity = self.inner.identity.clone();
        self.with_transport(Transport {
            colocated: Some(colocated),
            identity,
        })
    }

    /// This client's dependency, options and policy, calling through `transport`.
    fn with_transport(self, transport: Transport) -> ServiceClient {
        let inner = &*self.inner;
        ServiceClient::build(
            &inner.service,
            inner.resolver.clone(),
            inner.metrics.clone(),
            inner.options.clone(),
            inner.policy,
            transport,
        )
    }

    /// This client's dependency with `policy` instead, e.g.
    /// `ctx.client("recommendations").with_policy(policy)`. Set it when building the service:
    /// the new client starts with a closed breaker, a full budget and no ejections.
    pub fn with_policy(self, policy: Policy) -> ServiceClient {
        self.rebuilt(self.inner.options.clone(), policy)
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
        let options = Options {
            default_timeout: timeout,
        };
        self.rebuilt(options, self.inner.policy)
    }

    /// A new client for the same dependency, resolver and metrics, with `options` and `policy`.
    fn rebuilt(&self, options: Options, policy: Policy) -> ServiceClient {
        let inner = &*self.inner;
        ServiceClient::build(
            &inner.service,
            inner.resolver.clone(),
            inner.metrics.clone(),
            options,
            policy,
            Transport {
                colocated: inner.colocated.clone(),
                identity: inner.identity.clone(),
            },
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
        transport: Transport,
    ) -> ServiceClient {
        let Transport {
            colocated,
            identity,
        } = transport;
        let labels = DependencyLabels {
            dependency: Arc::from(service),
        };
        let in_flight = metrics.in_flight.get_or_create(&labels).clone();
        let duration = metrics.duration.get_or_create(&labels).clone();
        let retries = metrics.retries.get_or_create(&labels).clone();
        // Only a colocated client has the series: a split system's /metrics stays as it was.
        let in_process = match &colocated {
            Some(_) => metrics.in_process.get_or_create(&labels).clone(),
            None => Counter::default(),
        };
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
                http: plain::service_hyper_client(resolver.local_sockets()),
                resolver,
                colocated,
                identity,
                balancer,
                in_flight,
                duration,
                retries,
                in_process,
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

    /// `path` with `query` (a contract's query-string type) encoded after it; `path` alone when
    /// every member is absent.
    pub fn path_and_query<Q: Serialize>(&self, path: &str, query: &Q) -> Result<String, Error> {
        let encoded = serde_urlencoded::to_string(query).map_err(|e| Error::Request {
            service: self.service().to_owned(),
            reason: format!("cannot encode the query string of {path}: {e}"),
        })?;
        Ok(match encoded.is_empty() {
            true => path.to_owned(),
            false => format!("{path}?{encoded}"),
        })
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
        self.send_json(Method::POST, path, Some(body), &HeaderMap::new())
            .await
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
        let with_identity;
        let headers = match &inner.identity {
            Some(identity) => {
                with_identity = self.identified(identity, headers).await?;
                &with_identity
            }
            None => headers,
        };
        let caller = context::current();
        let budget = caller.as_ref().map_or(inner.options.default_timeout, |c| {
            c.remaining().min(inner.options.default_timeout)
        });
        inner.in_flight.inc();
        let result = if budget.is_zero() {
            Err(self.timeout_error(budget))
        } else if let Some(_slot) = inner.bulkhead.try_enter() {
            self.call_through_breaker(&Call {
                method: &method,
                path_and_query,
                body,
                headers,
                caller: caller.as_ref(),
                deadline: started + budget,
                budget,
            })
            .await
        } else {
            tracing::debug!(service = %inner.service, limit = inner.bulkhead.limit(), "bulkhead full; call refused");
            self.reject("bulkhead_full");
            let path = path_and_query.split('?').next().unwrap_or_default();
            self.refused_span(caller.as_ref(), &method, path, ClientOutcome::BulkheadFull);
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
        // The exemplar is the caller's trace, which the call's client span belongs to.
        let exemplar = caller
            .as_ref()
            .and_then(|c| crate::metrics::exemplar(&c.trace));
        inner
            .duration
            .observe(started.elapsed().as_secs_f64(), exemplar, None);
        result
    }

    /// `headers` with this process's identity for the destination.
    async fn identified(
        &self,
        identity: &Identity,
        headers: &HeaderMap,
    ) -> Result<HeaderMap, Error> {
        let service = &self.inner.service;
        let token = identity.token_for(service).await.map_err(|e| {
            tracing::warn!(error = %e, service, "no identity to call with");
            Error::Unavailable {
                service: service.clone(),
                reason: Unavailability::NoIdentity,
            }
        })?;
        let value = http::HeaderValue::from_str(&token).map_err(|_| Error::Request {
            service: service.clone(),
            reason: "the identity token is not a valid header value".to_owned(),
        })?;
        let mut headers = headers.clone();
        headers.insert(crate::identity::HEADER, value);
        Ok(headers)
    }

    fn timeout_error(&self, budget: Duration) -> Error {
        Error::Timeout {
            service: self.inner.service.clone(),
            budget_ms: budget.as_millis() as u64,
        }
    }

    /// A client span for a call refused before any attempt (breaker open, bulkhead full), so
    /// that the trace shows why the dependency was not asked.
    fn refused_span(
        &self,
        caller: Option<&RequestContext>,
        method: &Method,
        path: &str,
        outcome: ClientOutcome,
    ) {
        if let Some(parent) = caller.and_then(|c| c.span.as_ref()) {
            let (span, _) = parent.client_span(&self.inner.service, method.as_str(), path, 0);
            span.end_client(outcome, None, false);
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
