//! The resilience policy of one dependency: how a client retries, breaks, limits and ejects.
//!
//! Every field has a default drawn from the systems that run this at scale (Envoy, Finagle,
//! resilience4j), so a service configures only what its dependency needs differently.

use std::time::Duration;

pub use super::backoff::Backoff;
pub use super::balancer::EjectionPolicy;
pub use super::breaker::BreakerPolicy;
pub use super::budget::BudgetPolicy;
pub use super::bulkhead::BulkheadPolicy;

/// When and how calls are retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included (1: never retry).
    pub max_attempts: u32,
    /// The wait before each retry.
    pub backoff: Backoff,
    /// The extra load retries may add to the dependency.
    pub budget: BudgetPolicy,
    /// The longest `Retry-After` (of a 429 or 503) that is waited for; a longer one ends the call.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            backoff: Backoff::default(),
            budget: BudgetPolicy::default(),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

/// The resilience policy of one dependency. Build it from the default and change what differs:
///
/// ```
/// use std::time::Duration;
/// use brigade_chassis::client::Policy;
///
/// let mut policy = Policy::default();
/// policy.breaker.slow_call_threshold = Duration::from_millis(300);
/// policy.bulkhead.max_concurrent = 16;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Policy {
    pub retry: RetryPolicy,
    pub breaker: BreakerPolicy,
    pub bulkhead: BulkheadPolicy,
    pub ejection: EjectionPolicy,
}
