//! One call to a dependency, told as its steps: through the circuit breaker, over the instances
//! that discovery knows, one attempt at a time, each attempt deciding from its answer whether the
//! call is over or another attempt may follow.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Body;
use tokio::time::Instant;

use super::balancer::Lease;
use super::breaker::Verdict;
use super::{problem_from, Answer, Error, ServiceClient, Unavailability};
use crate::context::{RequestContext, DEADLINE_HEADER, IDEMPOTENCY_KEY_HEADER, REQUEST_ID_HEADER};
use crate::discovery::Endpoint;
use crate::metrics::DependencyLabels;
use crate::plain;
use crate::telemetry::{ClientOutcome, Traced};
use crate::trace_context::{self, TraceContext};

/// What one call sends and within which time, as every step of it reads it.
pub(super) struct Call<'a> {
    pub(super) method: &'a Method,
    pub(super) path_and_query: &'a str,
    pub(super) body: Option<Bytes>,
    /// Extra request headers, set over the chassis's own.
    pub(super) headers: &'a HeaderMap,
    /// The request this call is made for, when there is one: its trace and request id go along.
    pub(super) caller: Option<&'a RequestContext>,
    /// When the caller stops waiting.
    pub(super) deadline: Instant,
    /// The whole time the call was given, for the timeout error.
    pub(super) budget: Duration,
}

impl Call<'_> {
    /// The path without the query, for span attributes (a query may carry what a trace should
    /// not keep).
    pub(super) fn path(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or(self.path_and_query, |(path, _)| path)
    }

    /// A client span for an attempt, when the caller's request is traced.
    fn attempt_span(&self, service: &str, attempt: u32) -> Option<(Traced, TraceContext)> {
        let parent = self.caller.and_then(|c| c.span.as_ref())?;
        Some(parent.client_span(service, self.method.as_str(), self.path(), attempt))
    }

    /// Whether sending the request twice does no harm: an idempotent method, or a request with
    /// an `Idempotency-Key` (the destination applies it once).
    fn repeatable(&self) -> bool {
        is_idempotent(self.method) || self.headers.contains_key(IDEMPOTENCY_KEY_HEADER)
    }

    /// Whether the destination may hold the call until an outcome is known: a write with an
    /// `Idempotency-Key` (a checkout waits for its saga, a charge for a slow card). Such a
    /// call's length is not held against the dependency by the breaker's slow-call rule.
    fn waits_for_outcome(&self) -> bool {
        !is_safe(self.method) && self.headers.contains_key(IDEMPOTENCY_KEY_HEADER)
    }

    /// The deadline of one attempt. A read with another instance to go to gets half of what is
    /// left, so that an instance that accepts but never answers (frozen, overloaded) leaves time
    /// to ask another one instead of taking the caller's whole deadline. Only reads: a keyed
    /// write (a checkout, a charge) may legitimately take long, and asking a second instance
    /// meanwhile would only meet the first attempt's "request in progress".
    fn attempt_deadline(&self, untried_left: bool) -> Instant {
        if is_safe(self.method) && untried_left {
            let now = Instant::now();
            now + self.deadline.saturating_duration_since(now) / 2
        } else {
            self.deadline
        }
    }
}

/// What one attempt came to.
enum Attempted {
    /// The call is over, with this result.
    Finished(Result<Answer, Error>),
    /// Another attempt may follow after `pause`; when none does, `error` is the call's result.
    Failed { error: Error, pause: Duration },
}

/// The span of an attempt that failed, with how.
struct FailedSpan {
    span: Traced,
    outcome: ClientOutcome,
    status: Option<u16>,
}

impl FailedSpan {
    fn of(span: Traced, error: &Error) -> FailedSpan {
        let (outcome, status) = outcome_of_error(error);
        FailedSpan {
            span,
            outcome,
            status,
        }
    }

    fn end(self, retried: bool) {
        self.span.end_client(self.outcome, self.status, retried);
    }
}

/// Ends the span of the attempt that ended the call.
fn end_finished(span: &Traced, result: &Result<Answer, Error>) {
    let (outcome, status) = match result {
        Ok(answer) => (
            ClientOutcome::of_status(answer.status.as_u16()),
            Some(answer.status.as_u16()),
        ),
        Err(error) => outcome_of_error(error),
    };
    span.end_client(outcome, status, false);
}

fn outcome_of_error(error: &Error) -> (ClientOutcome, Option<u16>) {
    match error {
        Error::Status { problem, .. } => (
            ClientOutcome::of_status(problem.status),
            Some(problem.status),
        ),
        Error::Timeout { .. } => (ClientOutcome::Timeout, None),
        Error::Transport { .. } => (ClientOutcome::Transport, None),
        Error::Unavailable { .. } | Error::Decode { .. } | Error::Request { .. } => {
            (ClientOutcome::Failed, None)
        }
    }
}

/// What the attempts of one call have learnt so far.
#[derive(Default)]
struct Attempts {
    /// The instances tried, each once.
    tried: Vec<SocketAddr>,
    /// Whether any attempt may have reached an instance (see `Error::certainly_not_delivered`).
    maybe_delivered: bool,
}

impl ServiceClient {
    /// One call, counted by the circuit breaker: whether it succeeds is decided over all its
    /// attempts, so that one failing instance among healthy ones does not open the breaker of
    /// the whole dependency.
    pub(super) async fn call_through_breaker(&self, call: &Call<'_>) -> Result<Answer, Error> {
        let inner = &*self.inner;
        let Ok(permit) = inner.breaker.try_acquire() else {
            self.reject("breaker_open");
            self.refused_span(
                call.caller,
                call.method,
                call.path(),
                ClientOutcome::BreakerOpen,
            );
            return Err(Error::Unavailable {
                service: inner.service.clone(),
                reason: Unavailability::CircuitOpen,
            });
        };
        let permit = match call.waits_for_outcome() {
            true => permit.untimed(),
            false => permit,
        };
        // Each attempt is bounded by the deadline itself; this bounds the wait for discovery.
        let result = match tokio::time::timeout_at(call.deadline, self.call_instances(call)).await {
            Ok(result) => result,
            Err(_) => Err(self.timeout_error(call.budget)),
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

    /// Tries instances until one answers, the policy allows no more retries, or the deadline.
    async fn call_instances(&self, call: &Call<'_>) -> Result<Answer, Error> {
        let inner = &*self.inner;
        let endpoints = self.endpoints().await;
        let base = call.caller.map_or_else(TraceContext::new_root, |c| c.trace);
        inner.budget.deposit();
        let mut attempts = Attempts::default();
        let mut last_error = None;
        // The span of a failed attempt, ended once it is known whether a retry follows it.
        let mut failed_span: Option<FailedSpan> = None;
        // The wait before the next attempt: none to go to another instance at once.
        let mut pause = Duration::ZERO;
        for attempt in 0..inner.policy.retry.max_attempts.max(1) {
            if attempt > 0 {
                if !self.may_retry_after(pause, call.deadline) {
                    break;
                }
                tokio::time::sleep(pause).await;
            }
            let Some(lease) = self.pick(&endpoints, &attempts.tried, call, attempt) else {
                break;
            };
            if attempt > 0 {
                inner.retries.inc();
            }
            if let Some(failed) = failed_span.take() {
                failed.end(true);
            }
            // Each attempt is its own client span, so the callee's server span is the child of
            // the attempt that reached it.
            let (span, trace) = match call.attempt_span(&inner.service, attempt + 1) {
                Some((span, trace)) => (Some(span), trace),
                None => (None, base.child()),
            };
            if !attempts.tried.contains(&lease.address) {
                attempts.tried.push(lease.address);
            }
            let untried_left = endpoints
                .iter()
                .any(|e| !attempts.tried.contains(&e.address));
            let attempted = self
                .attempt(
                    call,
                    &trace,
                    &lease,
                    untried_left,
                    attempt + 1,
                    &mut attempts,
                )
                .await;
            match attempted {
                Attempted::Finished(result) => {
                    if let Some(span) = span {
                        end_finished(&span, &result);
                    }
                    return result;
                }
                Attempted::Failed { error, pause: next } => {
                    failed_span = span.map(|span| FailedSpan::of(span, &error));
                    last_error = Some(error);
                    pause = next;
                }
            }
        }
        if let Some(failed) = failed_span.take() {
            failed.end(false);
        }
        Err(last_error.unwrap_or_else(|| Error::Unavailable {
            service: inner.service.clone(),
            reason: Unavailability::NoInstance,
        }))
    }

    /// The dependency's instances. The first call may come before discovery has answered: it
    /// waits for it (the caller bounds the wait by the deadline).
    async fn endpoints(&self) -> Arc<[Endpoint]> {
        let inner = &*self.inner;
        let mut watch = inner
            .endpoints
            .get_or_init(|| inner.resolver.watch(&inner.service))
            .clone();
        let endpoints = match watch.wait_for(Option::is_some).await {
            Ok(list) => list.clone().unwrap_or_else(|| Arc::from(Vec::new())),
            Err(_) => Arc::from(Vec::new()),
        };
        endpoints
    }

    /// Whether a retry after `pause` may go ahead: it must be able to finish before the deadline,
    /// and the retry budget must allow it.
    fn may_retry_after(&self, pause: Duration, deadline: Instant) -> bool {
        let inner = &*self.inner;
        if Instant::now() + pause >= deadline {
            // The retry could not finish in time: the caller gets the failure now.
            return false;
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
            return false;
        }
        true
    }

    /// The instance of the next attempt. A retry goes to an instance not tried yet when there is
    /// one; a repeatable call may go back to one (after its backoff) when there is not.
    fn pick(
        &self,
        endpoints: &[Endpoint],
        tried: &[SocketAddr],
        call: &Call<'_>,
        attempt: u32,
    ) -> Option<Lease> {
        let balancer = &self.inner.balancer;
        match balancer.pick(endpoints, tried) {
            Some(lease) => Some(lease),
            None if call.repeatable() && attempt > 0 => balancer.pick(endpoints, &[]),
            None => None,
        }
    }

    /// One attempt on the instance of `lease`; `retry_number` counts from 1.
    async fn attempt(
        &self,
        call: &Call<'_>,
        trace: &TraceContext,
        lease: &Lease,
        untried_left: bool,
        retry_number: u32,
        attempts: &mut Attempts,
    ) -> Attempted {
        let attempt_deadline = call.attempt_deadline(untried_left);
        let request = match self.build_request(call, lease.address, trace, attempt_deadline) {
            Ok(request) => request,
            Err(error) => return Attempted::Finished(Err(error)),
        };
        let inner = &*self.inner;
        if let Some(handler) = inner
            .colocated
            .as_ref()
            .and_then(|local| local.handler(&inner.service, lease.address))
        {
            inner.in_process.inc();
            let mut request = request.map(axum::body::Body::new);
            // What hyper would have added from the URI.
            if let Ok(host) = HeaderValue::from_str(&lease.address.to_string()) {
                request.headers_mut().insert(header::HOST, host);
            }
            return match tokio::time::timeout_at(attempt_deadline, handler(request)).await {
                Ok(response) => {
                    attempts.maybe_delivered = true;
                    self.answered(call, lease, response, retry_number).await
                }
                Err(_) => self.no_answer(call, lease, attempt_deadline, attempts),
            };
        }
        let sent = tokio::time::timeout_at(attempt_deadline, inner.http.request(request)).await;
        match sent {
            Ok(Ok(response)) => {
                attempts.maybe_delivered = true;
                self.answered(call, lease, response, retry_number).await
            }
            Ok(Err(error)) => {
                self.transport_failed(call, lease, error, untried_left, retry_number, attempts)
            }
            Err(_) => self.no_answer(call, lease, attempt_deadline, attempts),
        }
    }

    /// The instance did not answer by `attempt_deadline`: another instance may be tried when
    /// the attempt had only a share of the call's deadline; otherwise the call timed out.
    fn no_answer(
        &self,
        call: &Call<'_>,
        lease: &Lease,
        attempt_deadline: Instant,
        attempts: &mut Attempts,
    ) -> Attempted {
        lease.failed();
        if attempt_deadline < call.deadline {
            tracing::debug!(service = %self.inner.service, address = %lease.address, "no answer within the attempt's share of the deadline; trying another instance");
            attempts.maybe_delivered = true;
            Attempted::Failed {
                error: self.timeout_error(call.budget),
                pause: Duration::ZERO,
            }
        } else {
            Attempted::Finished(Err(self.timeout_error(call.budget)))
        }
    }

    /// The instance answered: reads the body, tells the balancer how the instance did, and
    /// decides whether the answer ends the call.
    async fn answered<B>(
        &self,
        call: &Call<'_>,
        lease: &Lease,
        response: Response<B>,
        retry_number: u32,
    ) -> Attempted
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = response.into_parts();
        let (status, headers) = (parts.status, parts.headers);
        let read = tokio::time::timeout_at(
            call.deadline,
            Limited::new(body, plain::MAX_RESPONSE_BYTES).collect(),
        )
        .await;
        let body = match read {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(e)) => {
                lease.failed();
                return Attempted::Finished(Err(self.transport_error(lease.address, e, true)));
            }
            Err(_) => {
                lease.failed();
                return Attempted::Finished(Err(self.timeout_error(call.budget)));
            }
        };
        if status.is_server_error() {
            lease.failed();
        } else {
            lease.succeeded();
        }
        if status.is_success() {
            return Attempted::Finished(Ok(Answer {
                status,
                headers,
                body,
            }));
        }
        let error = Error::Status {
            service: self.inner.service.clone(),
            problem: Box::new(problem_from(status, &body)),
        };
        match self.retry_pause(call, status, &headers, retry_number) {
            Some(pause) => {
                tracing::debug!(service = %self.inner.service, address = %lease.address, %status, "retrying");
                Attempted::Failed { error, pause }
            }
            None => Attempted::Finished(Err(error)),
        }
    }

    /// The wait before retrying a call answered `status` (not a success), or `None` when the
    /// answer is final: the call is not repeatable, the status says retrying cannot help, or the
    /// dependency asks for a longer wait than the policy allows.
    fn retry_pause(
        &self,
        call: &Call<'_>,
        status: StatusCode,
        headers: &HeaderMap,
        retry_number: u32,
    ) -> Option<Duration> {
        if !call.repeatable() {
            return None;
        }
        let retry = &self.inner.policy.retry;
        match (status, retry_after(headers)) {
            (StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE, Some(wait)) => {
                (wait <= retry.max_retry_after).then_some(wait)
            }
            (
                StatusCode::INTERNAL_SERVER_ERROR
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT,
                _,
            ) => Some(retry.backoff.delay(retry_number)),
            _ => None,
        }
    }

    /// The request failed on its way: decides whether another instance (or the same one) may be
    /// tried.
    fn transport_failed(
        &self,
        call: &Call<'_>,
        lease: &Lease,
        error: hyper_util::client::legacy::Error,
        untried_left: bool,
        retry_number: u32,
        attempts: &mut Attempts,
    ) -> Attempted {
        let repeatable = call.repeatable();
        if !error.is_connect() && !repeatable {
            // It may have been sent, and sending it again could apply it twice.
            lease.failed();
            return Attempted::Finished(Err(self.transport_error(lease.address, error, true)));
        }
        // Either nothing was sent (safe whatever the method), or the request may be sent twice
        // without harm, e.g. a GET over a pooled connection to an instance that has just died.
        attempts.maybe_delivered |= !error.is_connect();
        lease.transport_failed();
        if !repeatable && !untried_left {
            // Only another instance may be tried for a call that is not repeatable.
            return Attempted::Finished(Err(self.transport_error(
                lease.address,
                error,
                attempts.maybe_delivered,
            )));
        }
        tracing::debug!(service = %self.inner.service, address = %lease.address, %error, "instance failed; trying another");
        let pause = if untried_left {
            Duration::ZERO
        } else {
            self.inner.policy.retry.backoff.delay(retry_number)
        };
        Attempted::Failed {
            error: self.transport_error(lease.address, error, attempts.maybe_delivered),
            pause,
        }
    }

    /// The HTTP request of one attempt: the call's method, path, body and headers, with the
    /// trace, the caller's request id and what is left of the deadline.
    fn build_request(
        &self,
        call: &Call<'_>,
        address: SocketAddr,
        trace: &TraceContext,
        deadline: Instant,
    ) -> Result<Request<Full<Bytes>>, Error> {
        let remaining_ms = deadline
            .saturating_duration_since(Instant::now())
            .as_millis()
            .max(1);
        let mut builder = Request::builder()
            .method(call.method.clone())
            .uri(format!("http://{address}{}", call.path_and_query))
            .header(header::ACCEPT, "application/json")
            .header(trace_context::HEADER, trace.to_traceparent())
            .header(DEADLINE_HEADER, remaining_ms.to_string());
        if let Some(id) = call
            .caller
            .and_then(|c| HeaderValue::from_str(&c.request_id).ok())
        {
            builder = builder.header(REQUEST_ID_HEADER, id);
        }
        if call.body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        let mut request = builder
            .body(Full::new(call.body.clone().unwrap_or_default()))
            .map_err(|e| Error::Request {
                service: self.inner.service.clone(),
                reason: e.to_string(),
            })?;
        for (name, value) in call.headers {
            request.headers_mut().insert(name, value.clone());
        }
        Ok(request)
    }
}

/// Methods that HTTP defines as safe (RFC 9110, section 9.2.1): they only read, so asking a
/// second instance costs nothing but the work.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Methods that HTTP defines as idempotent (RFC 9110, section 9.2.2).
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
