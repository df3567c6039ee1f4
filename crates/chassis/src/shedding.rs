//! Server-side load shedding: past a limit of requests in flight, an instance answers 503 at once.
//!
//! An overloaded instance that queues every request makes all of them slow, and past the callers'
//! deadlines all of its work is wasted: every answer arrives too late to matter. Refusing the
//! excess immediately keeps the admitted requests fast, and a refusal costs the caller almost
//! nothing: `503` with `Retry-After` is an overload answer the chassis client retries on another
//! instance ([`crate::http::is_overload`]).
//!
//! The limit is fixed per instance (`--max-concurrent-requests`), or with
//! `--adaptive-concurrency` follows the instance's latency under that ceiling ([`gradient`]:
//! it shrinks when requests start to queue and grows back when they stop). Places are counted
//! with an atomic that is only ever *tried*, never waited on, so a refused request never waits. Health,
//! readiness, metrics and the chaos admin routes are never shed: an orchestrator must still see
//! the instance, and an operator must be able to turn injected faults off, exactly when it is
//! overloaded ([`crate::routes::EXEMPT`]).

pub mod gradient;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::response::Response;
use http::{header, HeaderValue, StatusCode};
use prometheus_client::metrics::gauge::Gauge;
use tokio::time::Instant;

use crate::problem::Problem;
use crate::routes;
use gradient::{Gradient, GradientPolicy};

/// The default limit of requests one instance serves at once.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 256;

/// The seconds a shed caller is told to wait before trying this instance again.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// How the limit is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitMode {
    /// Every request admitted.
    Off,
    /// At most this many at once.
    Fixed(usize),
    /// A limit that follows the instance's latency (see [`gradient`]), up to this many.
    Adaptive(usize),
}

impl LimitMode {
    /// The mode of the flags `--max-concurrent-requests N` (0: off) and
    /// `--adaptive-concurrency`.
    pub fn of(max: usize, adaptive: bool) -> LimitMode {
        match (max, adaptive) {
            (0, _) => LimitMode::Off,
            (max, false) => LimitMode::Fixed(max),
            (max, true) => LimitMode::Adaptive(max),
        }
    }
}

/// Admission control: at most `limit` requests in flight at once.
#[derive(Debug, Clone)]
pub struct Limiter {
    /// `None` when shedding is off.
    inner: Option<Arc<Inner>>,
}

#[derive(Debug)]
struct Inner {
    in_flight: AtomicUsize,
    limit: AtomicUsize,
    /// Present for an adaptive limit.
    gradient: Option<Mutex<Gradient>>,
    /// The current limit, exported (`http_server_concurrency_limit`).
    gauge: Gauge,
}

/// A request's place among the admitted ones; it frees the place when dropped and, under an
/// adaptive limit, tells the limit how long the request took.
#[derive(Debug)]
pub struct Admitted {
    place: Option<(Arc<Inner>, Instant, usize)>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let Some((inner, started, in_flight)) = self.place.take() else {
            return;
        };
        inner.in_flight.fetch_sub(1, Ordering::AcqRel);
        if let Some(gradient) = &inner.gradient {
            let now = Instant::now();
            let mut gradient = gradient.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(limit) = gradient.sample(now - started, in_flight, now) {
                inner.limit.store(limit, Ordering::Release);
                inner.gauge.set(limit as i64);
            }
        }
    }
}

impl Limiter {
    /// A fixed limiter admitting `max` requests at once; 0 admits everything.
    pub fn new(max: usize) -> Limiter {
        Limiter::with_mode(LimitMode::of(max, false), Gauge::default())
    }

    /// A limiter in `mode`, publishing its limit on `gauge`.
    pub fn with_mode(mode: LimitMode, gauge: Gauge) -> Limiter {
        let (limit, gradient) = match mode {
            LimitMode::Off => return Limiter { inner: None },
            LimitMode::Fixed(max) => (max, None),
            LimitMode::Adaptive(max) => {
                let gradient = Gradient::new(GradientPolicy::up_to(max));
                (gradient.limit(), Some(Mutex::new(gradient)))
            }
        };
        gauge.set(limit as i64);
        Limiter {
            inner: Some(Arc::new(Inner {
                in_flight: AtomicUsize::new(0),
                limit: AtomicUsize::new(limit),
                gradient,
                gauge,
            })),
        }
    }

    /// The limit now (0: unlimited).
    pub fn max(&self) -> usize {
        self.inner
            .as_ref()
            .map_or(0, |inner| inner.limit.load(Ordering::Acquire))
    }

    /// Admits a request to `route` when there is room (or the route is exempt), without waiting.
    pub fn try_admit(&self, route: &str) -> Option<Admitted> {
        let unlimited = Admitted { place: None };
        let Some(inner) = &self.inner else {
            return Some(unlimited);
        };
        if routes::is_exempt(route) || routes::is_long_poll(route) {
            return Some(unlimited);
        }
        let limit = inner.limit.load(Ordering::Acquire);
        let before = inner.in_flight.fetch_add(1, Ordering::AcqRel);
        if before >= limit {
            inner.in_flight.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Admitted {
            place: Some((inner.clone(), Instant::now(), before + 1)),
        })
    }
}

/// The problem a shed request is answered with: 503 `overloaded`.
pub fn overloaded(max: usize) -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        "Overloaded",
        format!(
            "this instance is already serving its limit of {max} requests at once; \
             retry in {RETRY_AFTER_SECONDS} s, or on another instance"
        ),
    )
}

/// `response` (a shed request's, however rendered) told when to come back: `Retry-After`.
pub fn retry_later(mut response: Response) -> Response {
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
