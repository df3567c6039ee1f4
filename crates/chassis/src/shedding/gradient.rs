//! The adaptive concurrency limit's arithmetic: a gradient on latency, after Netflix's
//! `Gradient2Limit` (concurrency-limits), fed one window of samples at a time.
//!
//! The idea: while requests take as long as they usually do, the instance is not queueing, so
//! the limit may grow; when the recent latency rises above the long-term one, work is waiting
//! for the CPU (or a pool), and the limit shrinks in proportion. No threshold has to be tuned to
//! the service's latency: only the ratio of the recent to the long-term average counts.
//!
//! Per window (at least [`GradientPolicy::window`] long and [`GradientPolicy::min_samples`]
//! requests): `short` is the window's mean latency, `long` an exponential average of the windows'
//! means. `gradient = clamp(tolerance × long / short, 0.5, 1)`; the new limit is
//! `limit × gradient + queue`, smoothed, within `[min, max]`. A window where fewer than half of
//! the places were used says nothing about the limit (the instance was not limited by it) and
//! leaves it alone. Pure and clock-free: the caller passes `now`, so tests drive it with
//! synthetic time.

use std::time::Duration;

use tokio::time::Instant;

/// Tuning of the adaptive limit; the defaults are Gradient2's, with shorter windows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradientPolicy {
    /// The limit when the instance starts.
    pub initial: usize,
    /// The limit never goes below this (some work must always be admitted).
    pub min: usize,
    /// Nor above this (`--max-concurrent-requests`).
    pub max: usize,
    /// The shortest window over which latency is averaged before the limit moves.
    pub window: Duration,
    /// The fewest samples a window needs.
    pub min_samples: u32,
    /// How much slower than the long-term average the recent latency may be before the limit
    /// shrinks (1.5: half again as slow).
    pub tolerance: f64,
    /// Weight of a new limit against the current one.
    pub smoothing: f64,
    /// Windows over which the long-term latency is averaged.
    pub long_windows: u32,
}

impl GradientPolicy {
    /// The default policy under a ceiling of `max`.
    pub fn up_to(max: usize) -> GradientPolicy {
        let max = max.max(1);
        GradientPolicy {
            initial: 20.min(max),
            min: 4.min(max),
            max,
            window: Duration::from_millis(250),
            min_samples: 10,
            tolerance: 1.5,
            smoothing: 0.2,
            long_windows: 100,
        }
    }
}

/// The limit's state.
#[derive(Debug, Clone)]
pub struct Gradient {
    policy: GradientPolicy,
    limit: f64,
    /// Long-term mean latency in seconds, and how many windows it has seen (for its warm-up).
    long: Option<f64>,
    long_count: u32,
    window_start: Option<Instant>,
    window_sum: f64,
    window_samples: u32,
    window_max_in_flight: usize,
}

impl Gradient {
    pub fn new(policy: GradientPolicy) -> Gradient {
        Gradient {
            limit: policy.initial as f64,
            policy,
            long: None,
            long_count: 0,
            window_start: None,
            window_sum: 0.0,
            window_samples: 0,
            window_max_in_flight: 0,
        }
    }

    /// The limit now.
    pub fn limit(&self) -> usize {
        self.limit.round() as usize
    }

    /// Records one request that took `latency` with `in_flight` requests admitted (itself
    /// included) when it started. Returns the new limit when a window closed.
    pub fn sample(&mut self, latency: Duration, in_flight: usize, now: Instant) -> Option<usize> {
        let start = *self.window_start.get_or_insert(now);
        self.window_sum += latency.as_secs_f64();
        self.window_samples += 1;
        self.window_max_in_flight = self.window_max_in_flight.max(in_flight);
        if now.duration_since(start) < self.policy.window
            || self.window_samples < self.policy.min_samples
        {
            return None;
        }
        let short = self.window_sum / f64::from(self.window_samples);
        let busy = self.window_max_in_flight;
        self.window_start = Some(now);
        self.window_sum = 0.0;
        self.window_samples = 0;
        self.window_max_in_flight = 0;
        self.update(short.max(1e-6), busy);
        Some(self.limit())
    }

    fn update(&mut self, short: f64, busy: usize) {
        let policy = self.policy;
        // The long-term average: a plain mean while warming up, then exponential.
        self.long_count = self.long_count.saturating_add(1);
        let long = match self.long {
            None => short,
            Some(long) if self.long_count <= 10 => {
                long + (short - long) / f64::from(self.long_count)
            }
            Some(long) => long + (short - long) * 2.0 / (f64::from(policy.long_windows) + 1.0),
        };
        // When the load falls away, latency drops well below the long-term average: let that
        // average follow quickly, or the limit would keep growing on a stale baseline.
        let long = if long / short > 2.0 {
            long * 0.95
        } else {
            long
        };
        self.long = Some(long);
        if (busy as f64) < self.limit / 2.0 {
            return;
        }
        let gradient = (policy.tolerance * long / short).clamp(0.5, 1.0);
        let queue = self.limit.sqrt().max(4.0);
        let proposed = self.limit * gradient + queue;
        let smoothed = self.limit * (1.0 - policy.smoothing) + proposed * policy.smoothing;
        self.limit = smoothed.clamp(policy.min as f64, policy.max as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `windows` windows of `per_window` samples of `latency` at `in_flight`.
    fn feed(
        gradient: &mut Gradient,
        now: &mut Instant,
        windows: u32,
        latency: Duration,
        in_flight: usize,
    ) -> usize {
        let step = gradient.policy.window / gradient.policy.min_samples;
        for _ in 0..windows {
            for _ in 0..gradient.policy.min_samples {
                *now += step;
                gradient.sample(latency, in_flight, *now);
            }
        }
        gradient.limit()
    }

    #[test]
    fn the_limit_grows_while_latency_holds_and_the_places_are_used() {
        let mut gradient = Gradient::new(GradientPolicy::up_to(256));
        let mut now = Instant::now();
        assert_eq!(gradient.limit(), 20);
        let limit = feed(&mut gradient, &mut now, 50, Duration::from_millis(5), 256);
        assert!(limit > 40, "{limit}");
        let limit = feed(&mut gradient, &mut now, 1000, Duration::from_millis(5), 256);
        assert_eq!(limit, 256, "never above the ceiling");
    }

    #[test]
    fn an_idle_instance_keeps_its_limit() {
        let mut gradient = Gradient::new(GradientPolicy::up_to(256));
        let mut now = Instant::now();
        let limit = feed(&mut gradient, &mut now, 200, Duration::from_millis(5), 3);
        assert_eq!(limit, 20);
    }

    #[test]
    fn the_limit_shrinks_when_latency_rises_and_recovers_when_it_falls() {
        let mut gradient = Gradient::new(GradientPolicy::up_to(256));
        let mut now = Instant::now();
        let grown = feed(&mut gradient, &mut now, 100, Duration::from_millis(5), 256);
        // Queueing: the recent latency four times the usual.
        let shrunk = feed(&mut gradient, &mut now, 10, Duration::from_millis(20), 256);
        assert!(shrunk < grown * 2 / 3, "{grown} → {shrunk}");
        let floor = feed(&mut gradient, &mut now, 20, Duration::from_millis(80), 256);
        assert!(floor <= shrunk);
        assert!(floor >= 4, "never below the floor");
        // The load goes: latency back to normal, and the limit grows again.
        let recovered = feed(&mut gradient, &mut now, 200, Duration::from_millis(5), 256);
        assert!(recovered > floor, "{floor} → {recovered}");
    }

    #[test]
    fn a_window_closes_only_with_enough_time_and_samples() {
        let mut gradient = Gradient::new(GradientPolicy::up_to(100));
        let start = Instant::now();
        for i in 0..9 {
            let now = start + Duration::from_secs(1) * i;
            assert_eq!(gradient.sample(Duration::from_millis(1), 50, now), None);
        }
        // The tenth sample, long after the window began: it closes.
        assert!(gradient
            .sample(
                Duration::from_millis(1),
                50,
                start + Duration::from_secs(10)
            )
            .is_some());
        // Many samples in no time do not close the next one.
        let now = start + Duration::from_secs(10);
        for _ in 0..100 {
            assert_eq!(gradient.sample(Duration::from_millis(1), 50, now), None);
        }
    }
}
