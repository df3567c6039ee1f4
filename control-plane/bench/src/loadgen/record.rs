//! What a run records while it runs: per request type an HDR histogram of latencies (from each
//! request's intended start), its answers by status, and how many could not be sent; per
//! second of the schedule, the overall latencies, for the report's latency-over-time plot.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

/// The longest latency recorded exactly; longer ones count as this (a request's own timeout is
/// far below it).
const CEILING_MICROS: u64 = 600_000_000;

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An answer with this status.
    Status(u16),
    /// No answer within the request timeout.
    Timeout,
    /// The connection failed or the answer could not be read.
    Transport,
}

impl Outcome {
    /// Whether it counts as an error: anything but a 2xx or 3xx answer.
    pub fn is_error(self) -> bool {
        !matches!(self, Outcome::Status(200..=399))
    }

    /// How the report names it.
    pub fn label(self) -> String {
        match self {
            Outcome::Status(status) => status.to_string(),
            Outcome::Timeout => "timeout".to_owned(),
            Outcome::Transport => "transport error".to_owned(),
        }
    }
}

/// A request type's, or all requests', counts and latencies.
#[derive(Debug, Clone)]
pub struct Tally {
    pub latencies: Histogram<u64>,
    pub outcomes: BTreeMap<String, u64>,
    pub errors: u64,
    /// Due but not sent: the in-flight limit was reached.
    pub not_sent: u64,
    /// Sent a second time because the connection closed under the first before any answer.
    pub resent: u64,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latencies: histogram(3),
            outcomes: BTreeMap::new(),
            errors: 0,
            not_sent: 0,
            resent: 0,
        }
    }

    fn record(&mut self, latency: Duration, outcome: Outcome) {
        record_latency(&mut self.latencies, latency);
        *self.outcomes.entry(outcome.label()).or_default() += 1;
        if outcome.is_error() {
            self.errors += 1;
        }
    }

    /// Requests that were sent (and so answered, failed or timed out).
    pub fn sent(&self) -> u64 {
        self.latencies.len()
    }
}

/// One second of the schedule, by intended start.
#[derive(Debug, Clone)]
pub struct Second {
    pub latencies: Histogram<u64>,
    pub errors: u64,
    pub not_sent: u64,
}

/// Everything a run records.
#[derive(Debug, Clone)]
pub struct Recorder {
    pub names: Vec<String>,
    pub kinds: Vec<Tally>,
    pub overall: Tally,
    pub seconds: Vec<Second>,
}

fn histogram(significant_digits: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, CEILING_MICROS, significant_digits)
        .or_else(|_| Histogram::new(significant_digits))
        .unwrap_or_else(|_| unreachable!("3 significant digits are within hdrhistogram's bounds"))
}

fn record_latency(histogram: &mut Histogram<u64>, latency: Duration) {
    let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    // Within the bounds by construction, so recording cannot fail.
    let _ = histogram.record(micros.clamp(1, CEILING_MICROS));
}

impl Recorder {
    /// A recorder for the request types `names` (indexed as the mix's requests).
    pub fn new(names: Vec<String>) -> Recorder {
        Recorder {
            kinds: names.iter().map(|_| Tally::new()).collect(),
            names,
            overall: Tally::new(),
            seconds: Vec::new(),
        }
    }

    fn second(&mut self, due: Duration) -> &mut Second {
        let index = usize::try_from(due.as_secs()).unwrap_or(usize::MAX);
        while self.seconds.len() <= index {
            self.seconds.push(Second {
                // Two digits: an hour of seconds stays within tens of megabytes.
                latencies: histogram(2),
                errors: 0,
                not_sent: 0,
            });
        }
        &mut self.seconds[index]
    }

    /// A request of type `kind`, due `due` into the run, ended as `outcome` after `latency`
    /// counted from when it was due.
    pub fn record(&mut self, kind: usize, due: Duration, latency: Duration, outcome: Outcome) {
        if let Some(tally) = self.kinds.get_mut(kind) {
            tally.record(latency, outcome);
        }
        self.overall.record(latency, outcome);
        let second = self.second(due);
        record_latency(&mut second.latencies, latency);
        if outcome.is_error() {
            second.errors += 1;
        }
    }

    /// A request of type `kind` was sent a second time: the connection closed under the first.
    pub fn resent(&mut self, kind: usize) {
        if let Some(tally) = self.kinds.get_mut(kind) {
            tally.resent += 1;
        }
        self.overall.resent += 1;
    }

    /// A request of type `kind`, due `due` into the run, not sent: too many in flight.
    pub fn not_sent(&mut self, kind: usize, due: Duration) {
        if let Some(tally) = self.kinds.get_mut(kind) {
            tally.not_sent += 1;
        }
        self.overall.not_sent += 1;
        self.second(due).not_sent += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_by_type_overall_and_second() {
        let mut recorder = Recorder::new(vec!["a".into(), "b".into()]);
        let ms = Duration::from_millis;
        recorder.record(0, ms(100), ms(5), Outcome::Status(200));
        recorder.record(1, ms(1500), ms(7), Outcome::Status(503));
        recorder.record(1, ms(1600), ms(9), Outcome::Timeout);
        recorder.not_sent(0, ms(2100));
        assert_eq!(recorder.kinds[0].sent(), 1);
        assert_eq!(recorder.kinds[0].not_sent, 1);
        assert_eq!(recorder.kinds[1].errors, 2);
        assert_eq!(recorder.overall.sent(), 3);
        assert_eq!(recorder.overall.errors, 2);
        assert_eq!(recorder.overall.outcomes["timeout"], 1);
        assert_eq!(recorder.overall.outcomes["503"], 1);
        assert_eq!(recorder.seconds.len(), 3);
        assert_eq!(recorder.seconds[1].latencies.len(), 2);
        assert_eq!(recorder.seconds[1].errors, 2);
        assert_eq!(recorder.seconds[2].not_sent, 1);
        assert!(!Outcome::Status(302).is_error());
        assert!(Outcome::Status(404).is_error());
    }
}
