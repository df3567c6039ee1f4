//! How long to wait before a retry: exponential backoff with full jitter.
//!
//! Full jitter (a uniform wait between zero and the exponential ceiling) spreads the retries of
//! many callers that failed together, so they do not come back in waves and knock the recovering
//! dependency over again; with the same total work it finishes sooner than "equal" or no jitter.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff with full jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first retry's wait; it doubles for each further retry.
    pub base: Duration,
    /// The longest any retry waits.
    pub cap: Duration,
}

impl Default for Backoff {
    /// 25 ms doubling to at most 1 s: short enough to fit several retries into a request's
    /// deadline, long enough that a momentary overload can drain.
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(25),
            cap: Duration::from_secs(1),
        }
    }
}

impl Backoff {
    /// The longest the `retry`-th retry (counting from 1) may wait: `base × 2^(retry-1)`, at most
    /// `cap`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// A random wait for the `retry`-th retry, uniform between zero and [`Backoff::ceiling`].
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = u64::try_from(self.ceiling(retry).as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::rng().random_range(0..=ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_from_the_base_up_to_the_cap() {
        let backoff = Backoff::default();
        let ceilings: Vec<u128> = (1..=8).map(|n| backoff.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [25, 50, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.ceiling(200), Duration::from_secs(1));
    }

    #[test]
    fn delays_are_jittered_within_the_ceiling() {
        let backoff = Backoff::default();
        for retry in 1..=6 {
            let delays: Vec<Duration> = (0..200).map(|_| backoff.delay(retry)).collect();
            assert!(delays.iter().all(|d| *d <= backoff.ceiling(retry)));
            // Full jitter: the waits spread over the whole range rather than clustering.
            let half = backoff.ceiling(retry) / 2;
            assert!(delays.iter().any(|d| *d < half));
            assert!(delays.iter().any(|d| *d > half));
        }
    }
}
