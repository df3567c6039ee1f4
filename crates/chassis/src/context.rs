//! The request-scoped context: trace, deadline and request id of the request being served.
//!
//! The server middleware sets it for the duration of each handler (a tokio task-local), so code
//! deep inside a handler — the problem builder, the outbound client — finds it without threading
//! it through every signature. Code running outside a request sees `None`.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::telemetry::Traced;
use crate::trace_context::TraceContext;

/// The header carrying the caller's remaining time budget, in milliseconds. A relative budget,
/// not an absolute time, so that clocks of different machines need not agree.
pub const DEADLINE_HEADER: http::HeaderName = http::HeaderName::from_static("brigade-deadline-ms");

/// The header carrying the request id, echoed on every response.
pub const REQUEST_ID_HEADER: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// The header with which a caller makes a non-idempotent request safe to repeat: the service
/// applies a request with a given key once and answers repeats with the first answer.
pub const IDEMPOTENCY_KEY_HEADER: http::HeaderName =
    http::HeaderName::from_static("idempotency-key");

/// What is known about the request being served.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub trace: TraceContext,
    pub request_id: String,
    /// The instant by which the answer must be sent; nothing downstream waits past it.
    pub deadline: Instant,
    /// The request's span, when spans are exported: outbound calls are its children.
    pub span: Option<Traced>,
}

impl RequestContext {
    /// Time left before the deadline (zero when it has passed).
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

tokio::task_local! {
    static CURRENT: RequestContext;
}

/// The context of the request this task is serving, if any.
pub fn current() -> Option<RequestContext> {
    CURRENT.try_with(Clone::clone).ok()
}

/// The span of the request this task is serving, when it is traced: cheaper than [`current`]
/// for code that needs nothing else (a store statement asks on every run).
pub fn current_span() -> Option<Traced> {
    CURRENT.try_with(|c| c.span.clone()).ok().flatten()
}

/// Runs `future` with `context` as the current request context.
pub async fn scope<F: Future>(context: RequestContext, future: F) -> F::Output {
    CURRENT.scope(context, future).await
}

/// How long work detached from its request may take, as far as its context is concerned: long
/// enough never to bind before the client's own per-call timeout does.
const DETACHED_HORIZON: Duration = Duration::from_secs(3600);

/// `future` in the current request's trace but not under its deadline: for work spawned on its
/// own task that must outlive the request (a task-local does not follow `tokio::spawn`), such as
/// a saga driven apart from the request that started it. Its calls, log lines and events stay
/// in the request's trace; each call is bounded by the client's timeout, not by the request.
pub fn detached<F: Future>(future: F) -> impl Future<Output = F::Output> {
    let context = current().map(|c| RequestContext {
        deadline: Instant::now() + DETACHED_HORIZON,
        ..c
    });
    async move {
        match context {
            Some(context) => scope(context, future).await,
            None => future.await,
        }
    }
}

/// Parses a [`DEADLINE_HEADER`] value: a whole number of milliseconds.
pub fn parse_deadline_ms(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn detached_work_keeps_the_requests_trace_but_not_its_deadline() {
        let request = RequestContext {
            trace: TraceContext::new_root(),
            request_id: "r-1".into(),
            deadline: Instant::now() + Duration::from_millis(1),
            span: None,
        };
        let seen = scope(request.clone(), async {
            tokio::spawn(detached(async { current() })).await
        })
        .await
        .unwrap()
        .expect("the spawned work has a context");
        assert_eq!(seen.trace, request.trace);
        assert_eq!(seen.request_id, "r-1");
        assert!(seen.remaining() > Duration::from_secs(60));
        // Without a request there is nothing to carry.
        assert!(tokio::spawn(detached(async { current() }))
            .await
            .unwrap()
            .is_none());
    }
}
