//! Server-side load shedding: past a limit of requests in flight, an instance answers 503 at once.
//!
//! An overloaded instance that queues every request makes all of them slow, and past the callers'
//! deadlines all of its work is wasted: every answer arrives too late to matter. Refusing the
//! excess immediately keeps the admitted requests fast, and a refusal costs the caller almost
//! nothing: `503` with `Retry-After` is an overload answer the chassis client retries on another
//! instance ([`crate::http::is_overload`]).
//!
//! The limit is fixed per instance (`--max-concurrent-requests`), counted with a semaphore whose
//! permits are only ever *tried*, never awaited, so a refused request never waits. Health,
//! readiness, metrics and the chaos admin routes are never shed: an orchestrator must still see
//! the instance, and an operator must be able to turn injected faults off, exactly when it is
//! overloaded.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::problem::Problem;

/// The default limit of requests one instance serves at once.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 256;

/// The seconds a shed caller is told to wait before trying this instance again.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// Routes that are never shed (nor faulted by chaos): the orchestrator's and the operator's.
pub const EXEMPT_ROUTES: &[&str] = &["/livez", "/readyz", "/metrics", crate::chaos::ADMIN_ROUTE];

/// True when requests to the route template `route` are served whatever the load.
pub fn is_exempt(route: &str) -> bool {
    EXEMPT_ROUTES.contains(&route)
}

/// Admission control: at most `max` requests in flight at once.
#[derive(Debug, Clone)]
pub struct Limiter {
    /// `None` when shedding is off (a limit of 0).
    permits: Option<Arc<Semaphore>>,
    max: usize,
}

/// A request's place among the admitted ones; it frees the place when dropped.
#[derive(Debug)]
pub struct Admitted {
    _permit: Option<OwnedSemaphorePermit>,
}

impl Limiter {
    /// A limiter admitting `max` requests at once; 0 admits everything.
    pub fn new(max: usize) -> Limiter {
        let permits = (max > 0).then(|| Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS))));
        Limiter { permits, max }
    }

    /// The configured limit (0: unlimited).
    pub fn max(&self) -> usize {
        self.max
    }

    /// Admits a request to `route` when there is room (or the route is exempt), without waiting.
    pub fn try_admit(&self, route: &str) -> Option<Admitted> {
        let Some(permits) = &self.permits else {
            return Some(Admitted { _permit: None });
        };
        if is_exempt(route) {
            return Some(Admitted { _permit: None });
        }
        permits
            .clone()
            .try_acquire_owned()
            .ok()
            .map(|permit| Admitted {
                _permit: Some(permit),
            })
    }
}

/// The answer to a shed request: 503 `overloaded` problem with `Retry-After`.
pub fn overloaded(max: usize) -> Response {
    let mut response = Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        "Overloaded",
        format!(
            "this instance is already serving its limit of {max} requests at once; \
             retry in {RETRY_AFTER_SECONDS} s, or on another instance"
        ),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_limit_and_frees_places_when_requests_end() {
        let limiter = Limiter::new(2);
        let first = limiter.try_admit("/v1/a");
        let second = limiter.try_admit("/v1/a");
        assert!(first.is_some() && second.is_some());
        assert!(limiter.try_admit("/v1/a").is_none());
        assert!(limiter.try_admit("/readyz").is_some());
        drop(first);
        assert!(limiter.try_admit("/v1/a").is_some());
    }

    #[test]
    fn a_limit_of_zero_admits_everything() {
        let limiter = Limiter::new(0);
        let held: Vec<_> = (0..1000)
            .filter_map(|_| limiter.try_admit("/v1/a"))
            .collect();
        assert_eq!(held.len(), 1000);
    }
}
