//! A retry budget per destination: retries may add at most a share of the calls made, plus a
//! small floor per second.
//!
//! Per-call retry limits alone multiply load exactly when a dependency is failing (three attempts
//! per call is three times the load on something already down). A budget, as in Finagle and
//! gRPC, bounds the extra load for the whole client: with the defaults, retries add at most 20 %
//! to the calls of the last 10 s, plus 10 per second so that a client with little traffic can
//! still retry.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// How many buckets the window is divided into: the budget forgets old calls a tenth of a window
/// at a time.
const BUCKETS: u32 = 10;

/// The retry budget of one dependency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetPolicy {
    /// Retries allowed per call made in the window (0.2: retries add at most 20 %).
    pub ratio: f64,
    /// Retries allowed per second whatever the traffic, so that a quiet client can retry.
    pub min_per_second: u32,
    /// How far back calls and retries count.
    pub window: Duration,
}

impl Default for BudgetPolicy {
    fn default() -> Self {
        BudgetPolicy {
            ratio: 0.2,
            min_per_second: 10,
            window: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    index: u64,
    calls: u64,
    retries: u64,
}

/// Calls and retries of the last window, in buckets.
#[derive(Debug)]
pub(crate) struct RetryBudget {
    policy: BudgetPolicy,
    origin: Instant,
    bucket_len: Duration,
    buckets: Mutex<VecDeque<Bucket>>,
}

impl RetryBudget {
    pub(crate) fn new(policy: BudgetPolicy) -> RetryBudget {
        let bucket_len = (policy.window / BUCKETS).max(Duration::from_millis(1));
        RetryBudget {
            policy,
            origin: Instant::now(),
            bucket_len,
            buckets: Mutex::new(VecDeque::new()),
        }
    }

    /// The current bucket, after dropping those that left the window.
    fn current<'a>(&self, buckets: &'a mut VecDeque<Bucket>) -> &'a mut Bucket {
        let elapsed = Instant::now().saturating_duration_since(self.origin);
        let index = u64::try_from(elapsed.as_nanos() / self.bucket_len.as_nanos()).unwrap_or(0);
        while buckets
            .front()
            .is_some_and(|b| b.index + u64::from(BUCKETS) <= index)
        {
            buckets.pop_front();
        }
        if buckets.back().is_none_or(|b| b.index != index) {
            buckets.push_back(Bucket {
                index,
                calls: 0,
                retries: 0,
            });
        }
        let last = buckets.len() - 1;
        &mut buckets[last]
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Bucket>> {
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a call (its first attempt), which earns `ratio` of a retry.
    pub(crate) fn deposit(&self) {
        let mut buckets = self.lock();
        self.current(&mut buckets).calls += 1;
    }

    /// Takes one retry from the budget; `false` when it is spent.
    pub(crate) fn try_withdraw(&self) -> bool {
        let mut buckets = self.lock();
        self.current(&mut buckets);
        let (calls, retries) = buckets
            .iter()
            .fold((0u64, 0u64), |(c, r), b| (c + b.calls, r + b.retries));
        let floor = f64::from(self.policy.min_per_second) * self.policy.window.as_secs_f64();
        let allowed = (self.policy.ratio.max(0.0) * calls as f64 + floor).floor();
        if (retries as f64) < allowed {
            self.current(&mut buckets).retries += 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn withdraw_all(budget: &RetryBudget) -> usize {
        (0..10_000).take_while(|_| budget.try_withdraw()).count()
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_client_gets_the_floor_per_second_of_the_window() {
        let budget = RetryBudget::new(BudgetPolicy::default());
        // 10 per second over 10 s.
        assert_eq!(withdraw_all(&budget), 100);
        assert!(!budget.try_withdraw());
    }

    #[tokio::test(start_paused = true)]
    async fn calls_earn_a_fifth_of_a_retry_each() {
        let budget = RetryBudget::new(BudgetPolicy {
            min_per_second: 0,
            ..BudgetPolicy::default()
        });
        assert!(!budget.try_withdraw());
        for _ in 0..100 {
            budget.deposit();
        }
        assert_eq!(withdraw_all(&budget), 20);
        for _ in 0..10 {
            budget.deposit();
        }
        assert_eq!(withdraw_all(&budget), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_refills_as_retries_leave_the_window() {
        let budget = RetryBudget::new(BudgetPolicy::default());
        assert_eq!(withdraw_all(&budget), 100);
        // Half a window later the spent retries still count.
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(!budget.try_withdraw());
        // Once they have left the window, the whole floor is back.
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(withdraw_all(&budget), 100);
    }
}
