//! When each request is due: a rate that follows stages (ramp up, hold, ramp down), with
//! arrivals evenly spaced (constant) or random with exponential gaps (Poisson).
//!
//! Both kinds come from one idea, the cumulative arrival count Λ(t) = ∫ rate: the n-th arrival
//! of a constant schedule is due when Λ reaches n, and a Poisson process with a varying rate is
//! a unit-rate one stretched through Λ⁻¹ (time rescaling), so it only needs exponential draws
//! of mean 1 added up. Within a stage the rate moves linearly, so Λ⁻¹ is a quadratic's root.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng as _};

/// The most requests per second a schedule may ask for: far above what two cores serve, well
/// below what would make the generator itself the thing measured.
pub const MAX_RATE: f64 = 50_000.0;
/// The longest schedule: a load run stops by itself.
pub const MAX_DURATION: Duration = Duration::from_secs(60 * 60);

/// How arrivals are spread within the rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrivals {
    /// Evenly spaced: at 100/s, one every 10 ms.
    Constant,
    /// A Poisson process: independent arrivals, exponential gaps with the same mean.
    Poisson,
}

/// One stage: over `duration`, the rate moves linearly from the previous stage's `rate` (0 before
/// the first) to this one's. `10s:100` ramps to 100/s in 10 s; the same rate twice holds it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Stage {
    #[serde(with = "duration_seconds")]
    pub duration: Duration,
    pub rate: f64,
}

mod duration_seconds {
    pub fn serialize<S: serde::Serializer>(
        duration: &std::time::Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(duration.as_secs_f64())
    }
}

/// Why a stage or schedule was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error(
        "a stage is DURATION:RATE, e.g. 30s:300 (30 seconds ending at 300 requests/s), got {0:?}"
    )]
    StageSyntax(String),
    #[error("a stage's duration {given:?} is not a duration like 10s or 2m: {reason}")]
    StageDuration { given: String, reason: String },
    #[error("a stage's rate takes 0 to {MAX_RATE} requests per second, got {0:?}")]
    StageRate(String),
    #[error("a stage must last at least 1ms, got {0:?}")]
    EmptyStage(String),
    #[error("the schedule needs at least one stage (--stage) or a --rate")]
    NoStage,
    #[error("the stages last {} in all; a load run lasts at most {}",
        humantime::format_duration(*.0), humantime::format_duration(MAX_DURATION))]
    TooLong(Duration),
    #[error("the stages make no request: every rate is 0")]
    NoRequests,
}

impl FromStr for Stage {
    type Err = Error;

    fn from_str(text: &str) -> Result<Stage, Error> {
        let (duration, rate) = text
            .split_once(':')
            .ok_or_else(|| Error::StageSyntax(text.to_owned()))?;
        let duration =
            humantime::parse_duration(duration.trim()).map_err(|e| Error::StageDuration {
                given: duration.to_owned(),
                reason: e.to_string(),
            })?;
        if duration < Duration::from_millis(1) {
            return Err(Error::EmptyStage(text.to_owned()));
        }
        let rate: f64 = rate
            .trim()
            .parse()
            .map_err(|_| Error::StageRate(rate.to_owned()))?;
        if !(0.0..=MAX_RATE).contains(&rate) {
            return Err(Error::StageRate(rate.to_string()));
        }
        Ok(Stage { duration, rate })
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            humantime::format_duration(self.duration),
            self.rate
        )
    }
}

/// A checked list of stages and how arrivals are spread.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Schedule {
    pub stages: Vec<Stage>,
    pub arrivals: Arrivals,
}

impl Schedule {
    /// `stages` as given, refused when empty, too long or without a single request.
    pub fn new(stages: Vec<Stage>, arrivals: Arrivals) -> Result<Schedule, Error> {
        if stages.is_empty() {
            return Err(Error::NoStage);
        }
        let schedule = Schedule { stages, arrivals };
        if schedule.duration() > MAX_DURATION {
            return Err(Error::TooLong(schedule.duration()));
        }
        if schedule.expected_count() < 0.5 {
            return Err(Error::NoRequests);
        }
        Ok(schedule)
    }

    /// One stage holding `rate` for `duration` from the first instant (no ramp).
    pub fn constant(rate: f64, duration: Duration, arrivals: Arrivals) -> Result<Schedule, Error> {
        if !(0.0..=MAX_RATE).contains(&rate) {
            return Err(Error::StageRate(rate.to_string()));
        }
        if duration < Duration::from_millis(1) {
            return Err(Error::EmptyStage(format!("{rate}/s for {duration:?}")));
        }
        // A zero-length first stage sets where the next one's ramp starts: at `rate`, not 0.
        let start = Stage {
            duration: Duration::ZERO,
            rate,
        };
        Schedule::new(vec![start, Stage { duration, rate }], arrivals)
    }

    /// How long the schedule lasts.
    pub fn duration(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// The highest rate any stage reaches.
    pub fn peak_rate(&self) -> f64 {
        self.stages.iter().map(|s| s.rate).fold(0.0, f64::max)
    }

    /// Λ at the end: how many requests a constant schedule sends (a Poisson one, on average).
    pub fn expected_count(&self) -> f64 {
        self.segments().map(|s| s.count()).sum()
    }

    /// The rate at `at` into the schedule.
    pub fn rate_at(&self, at: Duration) -> f64 {
        let at = at.as_secs_f64();
        for segment in self.segments() {
            if at <= segment.start + segment.length {
                if segment.length == 0.0 {
                    return segment.to;
                }
                let into = (at - segment.start).max(0.0);
                return segment.from + (segment.to - segment.from) * into / segment.length;
            }
        }
        0.0
    }

    /// Each request's intended start, from the beginning of the run, in order; `seed` makes a
    /// Poisson schedule repeatable.
    pub fn arrivals(&self, seed: u64) -> ArrivalTimes {
        ArrivalTimes {
            segments: self.segments().collect(),
            segment: 0,
            base: 0.0,
            next: 0.0,
            kind: self.arrivals,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    fn segments(&self) -> impl Iterator<Item = Segment> + '_ {
        let mut previous = 0.0;
        let mut start = 0.0;
        self.stages.iter().map(move |stage| {
            let segment = Segment {
                start,
                length: stage.duration.as_secs_f64(),
                from: previous,
                to: stage.rate,
            };
            previous = stage.rate;
            start += segment.length;
            segment
        })
    }
}

/// A stretch of time over which the rate moves linearly.
#[derive(Debug, Clone, Copy)]
struct Segment {
    /// Seconds from the start of the run.
    start: f64,
    length: f64,
    from: f64,
    to: f64,
}

impl Segment {
    /// Λ over the whole segment.
    fn count(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.length
    }

    /// Seconds into the segment at which Λ (counted from its start) reaches `n` ≤ `count()`.
    fn time_of(&self, n: f64) -> f64 {
        let slope = (self.to - self.from) / self.length;
        if slope.abs() < 1e-12 {
            return n / self.from;
        }
        // from·t + slope·t²/2 = n, the root that lies in [0, length].
        let discriminant = (self.from * self.from + 2.0 * slope * n).max(0.0);
        ((discriminant.sqrt() - self.from) / slope).clamp(0.0, self.length)
    }
}

/// The intended starts of a schedule, lazily: a long run at a high rate needs no list of them.
#[derive(Debug)]
pub struct ArrivalTimes {
    segments: Vec<Segment>,
    segment: usize,
    /// Λ at the start of the current segment.
    base: f64,
    /// Λ of the next arrival.
    next: f64,
    kind: Arrivals,
    rng: SmallRng,
}

impl ArrivalTimes {
    fn step(&mut self) -> f64 {
        match self.kind {
            Arrivals::Constant => 1.0,
            // An exponential draw of mean 1; 1 − u is in (0, 1], so its log is finite.
            Arrivals::Poisson => -(1.0 - self.rng.random::<f64>()).ln(),
        }
    }
}

impl Iterator for ArrivalTimes {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        // The constant schedule's first arrival is at Λ = 0.5, the middle of the first
        // request's share, so that the count over any stretch rounds to rate × length.
        if self.next == 0.0 {
            self.next = match self.kind {
                Arrivals::Constant => 0.5,
                Arrivals::Poisson => self.step(),
            };
        }
        loop {
            let segment = *self.segments.get(self.segment)?;
            let within = self.next - self.base;
            if within <= segment.count() && segment.length > 0.0 {
                let at = segment.start + segment.time_of(within);
                self.next += self.step();
                return Some(Duration::from_secs_f64(at));
            }
            self.base += segment.count();
            self.segment += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(text: &str) -> Stage {
        text.parse().unwrap()
    }

    fn in_window(times: &[Duration], from: f64, to: f64) -> usize {
        times
            .iter()
            .filter(|t| (from..to).contains(&t.as_secs_f64()))
            .count()
    }

    #[test]
    fn a_constant_rate_sends_rate_times_duration_evenly_spaced() {
        let schedule =
            Schedule::constant(200.0, Duration::from_secs(5), Arrivals::Constant).unwrap();
        let times: Vec<Duration> = schedule.arrivals(1).collect();
        assert_eq!(times.len(), 1000);
        for second in 0..5 {
            let from = f64::from(second);
            assert_eq!(in_window(&times, from, from + 1.0), 200, "second {second}");
        }
        let gaps: Vec<f64> = times
            .windows(2)
            .map(|w| (w[1] - w[0]).as_secs_f64())
            .collect();
        assert!(gaps.iter().all(|g| (g - 0.005).abs() < 1e-9), "{gaps:?}");
        assert!(times.last().unwrap() < &Duration::from_secs(5));
    }

    #[test]
    fn poisson_arrivals_average_the_rate_with_exponential_gaps() {
        let schedule =
            Schedule::constant(100.0, Duration::from_secs(600), Arrivals::Poisson).unwrap();
        let times: Vec<Duration> = schedule.arrivals(42).collect();
        // 60 000 expected; the standard deviation of a Poisson count is √60000 ≈ 245.
        let count = times.len() as f64;
        assert!((count - 60_000.0).abs() < 1_000.0, "{count}");
        let gaps: Vec<f64> = times
            .windows(2)
            .map(|w| (w[1] - w[0]).as_secs_f64())
            .collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        assert!((mean - 0.01).abs() < 0.0003, "mean gap {mean}");
        // Exponential, not even: about e⁻¹ of the gaps are longer than the mean.
        let longer = gaps.iter().filter(|g| **g > 0.01).count() as f64 / gaps.len() as f64;
        assert!((longer - (-1.0f64).exp()).abs() < 0.02, "{longer}");
    }

    #[test]
    fn the_same_seed_gives_the_same_poisson_arrivals() {
        let schedule = Schedule::constant(50.0, Duration::from_secs(2), Arrivals::Poisson).unwrap();
        let first: Vec<Duration> = schedule.arrivals(7).collect();
        assert_eq!(first, schedule.arrivals(7).collect::<Vec<_>>());
        assert_ne!(first, schedule.arrivals(8).collect::<Vec<_>>());
    }

    #[test]
    fn stages_ramp_up_hold_and_ramp_down() {
        let schedule = Schedule::new(
            vec![stage("10s:100"), stage("10s:100"), stage("10s:0")],
            Arrivals::Constant,
        )
        .unwrap();
        assert_eq!(schedule.duration(), Duration::from_secs(30));
        let times: Vec<Duration> = schedule.arrivals(0).collect();
        // Ramp: half of 100 × 10 s; hold: 1000; ramp down: 500.
        assert_eq!(times.len(), 2000);
        assert_eq!(in_window(&times, 0.0, 10.0), 500);
        assert_eq!(in_window(&times, 10.0, 20.0), 1000);
        assert_eq!(in_window(&times, 20.0, 30.0), 500);
        // During the ramp up the rate grows: the second half of it carries three quarters.
        assert_eq!(in_window(&times, 5.0, 10.0), 375);
        assert_eq!(in_window(&times, 29.0, 30.0), 5);
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!((schedule.rate_at(Duration::from_secs(5)) - 50.0).abs() < 1e-9);
        assert!((schedule.rate_at(Duration::from_secs(25)) - 50.0).abs() < 1e-9);
        assert_eq!(schedule.peak_rate(), 100.0);
    }

    #[test]
    fn poisson_stages_follow_the_rate() {
        let schedule = Schedule::new(
            vec![stage("100s:200"), stage("100s:200")],
            Arrivals::Poisson,
        )
        .unwrap();
        let times: Vec<Duration> = schedule.arrivals(3).collect();
        let ramp = in_window(&times, 0.0, 100.0) as f64;
        let hold = in_window(&times, 100.0, 200.0) as f64;
        assert!((ramp - 10_000.0).abs() < 400.0, "{ramp}");
        assert!((hold - 20_000.0).abs() < 600.0, "{hold}");
    }

    #[test]
    fn bad_stages_are_refused_with_what_was_wrong() {
        assert!(matches!("30s".parse::<Stage>(), Err(Error::StageSyntax(_))));
        assert!(matches!(
            "thirty:3".parse::<Stage>(),
            Err(Error::StageDuration { .. })
        ));
        assert!(matches!("3s:-1".parse::<Stage>(), Err(Error::StageRate(_))));
        assert!(matches!(
            "3s:lots".parse::<Stage>(),
            Err(Error::StageRate(_))
        ));
        assert!(matches!(
            "0s:10".parse::<Stage>(),
            Err(Error::EmptyStage(_))
        ));
        assert_eq!(
            Schedule::new(vec![], Arrivals::Constant),
            Err(Error::NoStage)
        );
        assert_eq!(
            Schedule::new(vec![stage("2h:10")], Arrivals::Constant),
            Err(Error::TooLong(Duration::from_secs(7200)))
        );
        assert_eq!(
            Schedule::new(vec![stage("10s:0")], Arrivals::Constant),
            Err(Error::NoRequests)
        );
    }
}
