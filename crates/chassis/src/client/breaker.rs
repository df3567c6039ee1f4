//! A circuit breaker per dependency: closed → open → half-open, on the failure rate and the
//! slow-call rate of the recent calls.
//!
//! While a dependency is failing, calling it only adds load to it and latency to the caller;
//! an open breaker fails calls at once instead, and after a pause lets a single probe through to
//! find out whether the dependency has recovered. The rates are taken over a sliding window (the
//! last calls within a time span) and only once the window holds a minimum number of calls, so
//! that two failures out of three calls do not open it. A 4xx is the caller's mistake, not the
//! dependency's failure, and counts as a success. A call the dependency may hold until an
//! outcome is known (see [`Permit::untimed`]) is never counted slow: its length says how long
//! the outcome took, not how healthy the dependency is.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use tokio::time::Instant;

use crate::metrics::BreakerTransitionLabels;

/// The circuit breaker settings of one dependency (defaults as in resilience4j and Envoy).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerPolicy {
    /// The most recent calls the rates are taken over.
    pub window_calls: usize,
    /// Calls older than this leave the window.
    pub window_duration: Duration,
    /// No decision is made on fewer calls than this.
    pub minimum_calls: usize,
    /// The share of failed calls (0.0–1.0) at which the breaker opens.
    pub failure_rate: f64,
    /// The share of slow calls (0.0–1.0) at which the breaker opens.
    pub slow_call_rate: f64,
    /// A call taking at least this long is slow.
    pub slow_call_threshold: Duration,
    /// How long the breaker stays open before it lets a probe through.
    pub open_for: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy {
            window_calls: 20,
            window_duration: Duration::from_secs(10),
            minimum_calls: 10,
            failure_rate: 0.5,
            slow_call_rate: 0.8,
            slow_call_threshold: Duration::from_secs(2),
            open_for: Duration::from_secs(5),
        }
    }
}

/// A breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Calls go through and are counted.
    Closed,
    /// Calls fail at once.
    Open,
    /// One probe goes through; its outcome closes or re-opens the breaker.
    HalfOpen,
}

impl State {
    /// The value of the `http_client_breaker_state` gauge.
    pub fn gauge_value(self) -> i64 {
        match self {
            State::Closed => 0,
            State::Open => 1,
            State::HalfOpen => 2,
        }
    }

    fn label(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }
}

/// How a call ended, as far as the breaker is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The dependency answered (2xx–4xx).
    Success,
    /// A 5xx, a transport failure or no answer in time.
    Failure,
    /// The call said nothing about the dependency (e.g. it was cancelled by the caller).
    Ignored,
}

#[derive(Debug, Clone, Copy)]
struct Call {
    at: Instant,
    failed: bool,
    slow: bool,
}

#[derive(Debug)]
struct Machine {
    state: State,
    window: VecDeque<Call>,
    opened_at: Instant,
    probe_in_flight: bool,
}

/// The breaker of one client.
#[derive(Debug)]
pub(crate) struct Breaker {
    policy: BreakerPolicy,
    dependency: Arc<str>,
    machine: Mutex<Machine>,
    gauge: Gauge,
    transitions: Family<BreakerTransitionLabels, Counter>,
}

/// Leave to make one call; record its outcome with [`Permit::record`]. Dropped unrecorded, it
/// counts as [`Verdict::Ignored`] (and frees the half-open probe slot).
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
    /// When the call started; `None` when its length is not judged.
    started: Option<Instant>,
    recorded: bool,
}

impl<'a> Permit<'a> {
    /// The same leave for a call whose length says nothing about the dependency's health: a
    /// write the dependency holds until its outcome is known (a checkout waiting for its saga,
    /// a charge for a slow card). It still fails on a 5xx or a timeout; it is never slow.
    pub(crate) fn untimed(mut self) -> Permit<'a> {
        self.started = None;
        self
    }

    pub(crate) fn record(mut self, verdict: Verdict) {
        self.recorded = true;
        let elapsed = self.started.map_or(Duration::ZERO, |s| s.elapsed());
        self.breaker.record(self.probe, verdict, elapsed);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.recorded {
            self.breaker
                .record(self.probe, Verdict::Ignored, Duration::ZERO);
        }
    }
}

impl Breaker {
    pub(crate) fn new(
        policy: BreakerPolicy,
        dependency: Arc<str>,
        gauge: Gauge,
        transitions: Family<BreakerTransitionLabels, Counter>,
    ) -> Breaker {
        gauge.set(State::Closed.gauge_value());
        Breaker {
            policy,
            dependency,
            machine: Mutex::new(Machine {
                state: State::Closed,
                window: VecDeque::new(),
                opened_at: Instant::now(),
                probe_in_flight: false,
            }),
            gauge,
            transitions,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Machine> {
        self.machine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current state (an open breaker whose pause is over reads as half-open).
    pub(crate) fn state(&self) -> State {
        let mut machine = self.lock();
        self.refresh(&mut machine);
        machine.state
    }

    /// Leave to call, or how long until the breaker lets a probe through when it refuses.
    pub(crate) fn try_acquire(&self) -> Result<Permit<'_>, Duration> {
        let mut machine = self.lock();
        self.refresh(&mut machine);
        let probe = match machine.state {
            State::Closed => false,
            State::Open => {
                let until = machine.opened_at + self.policy.open_for;
                return Err(until.saturating_duration_since(Instant::now()));
            }
            // One probe at a time: the others fail fast until it has answered.
            State::HalfOpen if machine.probe_in_flight => return Err(Duration::ZERO),
            State::HalfOpen => {
                machine.probe_in_flight = true;
                true
            }
        };
        Ok(Permit {
            breaker: self,
            probe,
            started: Some(Instant::now()),
            recorded: false,
        })
    }

    /// Moves an open breaker whose pause is over to half-open.
    fn refresh(&self, machine: &mut Machine) {
        if machine.state == State::Open
            && Instant::now() >= machine.opened_at + self.policy.open_for
        {
            self.enter(machine, State::HalfOpen);
        }
    }

    fn record(&self, probe: bool, verdict: Verdict, elapsed: Duration) {
        let now = Instant::now();
        let slow = elapsed >= self.policy.slow_call_threshold;
        let mut machine = self.lock();
        if probe {
            machine.probe_in_flight = false;
            if machine.state != State::HalfOpen {
                return;
            }
            match verdict {
                // A slow probe is not a recovery: the dependency would still be slow.
                Verdict::Failure => self.enter(&mut machine, State::Open),
                Verdict::Success if slow => self.enter(&mut machine, State::Open),
                Verdict::Success => self.enter(&mut machine, State::Closed),
                Verdict::Ignored => {}
            }
            return;
        }
        // Calls let through before the breaker opened say nothing new once it has.
        if machine.state != State::Closed || verdict == Verdict::Ignored {
            return;
        }
        machine.window.push_back(Call {
            at: now,
            failed: verdict == Verdict::Failure,
            slow,
        });
        let oldest = now.checked_sub(self.policy.window_duration);
        while machine.window.len() > self.policy.window_calls.max(1)
            || machine
                .window
                .front()
                .is_some_and(|c| oldest.is_some_and(|o| c.at < o))
        {
            machine.window.pop_front();
        }
        let calls = machine.window.len();
        if calls < self.policy.minimum_calls.max(1) {
            return;
        }
        let failed = machine.window.iter().filter(|c| c.failed).count();
        let slow = machine.window.iter().filter(|c| c.slow).count();
        let (failure_rate, slow_rate) = (failed as f64 / calls as f64, slow as f64 / calls as f64);
        if failure_rate >= self.policy.failure_rate || slow_rate >= self.policy.slow_call_rate {
            tracing::warn!(
                dependency = %self.dependency,
                calls,
                failure_rate,
                slow_rate,
                "circuit breaker opening"
            );
            self.enter(&mut machine, State::Open);
        }
    }

    fn enter(&self, machine: &mut Machine, state: State) {
        let from = machine.state;
        machine.state = state;
        match state {
            State::Open => machine.opened_at = Instant::now(),
            State::Closed => machine.window.clear(),
            State::HalfOpen => {}
        }
        self.gauge.set(state.gauge_value());
        self.transitions
            .get_or_create(&BreakerTransitionLabels {
                dependency: self.dependency.clone(),
                state: state.label(),
            })
            .inc();
        tracing::info!(
            dependency = %self.dependency,
            from = from.label(),
            to = state.label(),
            "circuit breaker state changed"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> (Breaker, Gauge, Family<BreakerTransitionLabels, Counter>) {
        let gauge = Gauge::default();
        let transitions = Family::default();
        let breaker = Breaker::new(
            BreakerPolicy::default(),
            Arc::from("catalog"),
            gauge.clone(),
            transitions.clone(),
        );
        (breaker, gauge, transitions)
    }

    fn call(breaker: &Breaker, verdict: Verdict) {
        breaker.try_acquire().unwrap().record(verdict);
    }

    fn calls(breaker: &Breaker, verdict: Verdict, times: usize) {
        for _ in 0..times {
            call(breaker, verdict);
        }
    }

    /// `times` calls that each take 2 s, all in flight at once, then successful.
    async fn slow_calls(breaker: &Breaker, times: usize) {
        let slow: Vec<Permit<'_>> = (0..times).map(|_| breaker.try_acquire().unwrap()).collect();
        tokio::time::advance(Duration::from_secs(2)).await;
        for permit in slow {
            permit.record(Verdict::Success);
        }
    }

    fn entered(transitions: &Family<BreakerTransitionLabels, Counter>, state: &'static str) -> u64 {
        transitions
            .get_or_create(&BreakerTransitionLabels {
                dependency: Arc::from("catalog"),
                state,
            })
            .get()
    }

    #[tokio::test(start_paused = true)]
    async fn untimed_calls_are_never_slow_but_still_fail() {
        let (breaker, _, _) = breaker();
        let held: Vec<Permit<'_>> = (0..20)
            .map(|_| breaker.try_acquire().unwrap().untimed())
            .collect();
        tokio::time::advance(Duration::from_secs(3)).await;
        for permit in held {
            permit.record(Verdict::Success);
        }
        assert_eq!(breaker.state(), State::Closed, "20 long untimed calls");
        for _ in 0..10 {
            breaker
                .try_acquire()
                .unwrap()
                .untimed()
                .record(Verdict::Failure);
        }
        assert_eq!(
            breaker.state(),
            State::Open,
            "10 failures in the last 20 calls"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_open_before_the_minimum_number_of_calls() {
        let (breaker, _, _) = breaker();
        calls(&breaker, Verdict::Failure, 9);
        assert_eq!(breaker.state(), State::Closed);
        call(&breaker, Verdict::Failure);
        assert_eq!(breaker.state(), State::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn opens_at_half_the_calls_failing_and_fails_fast_while_open() {
        let (breaker, gauge, transitions) = breaker();
        calls(&breaker, Verdict::Success, 5);
        calls(&breaker, Verdict::Failure, 4);
        call(&breaker, Verdict::Success);
        assert_eq!(breaker.state(), State::Closed, "4 failures in 10 calls");
        call(&breaker, Verdict::Failure);
        call(&breaker, Verdict::Failure);
        assert_eq!(breaker.state(), State::Open, "6 failures in 12 calls");
        assert_eq!(gauge.get(), 1);
        assert_eq!(entered(&transitions, "open"), 1);
        let wait = breaker.try_acquire().unwrap_err();
        assert_eq!(wait, Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn client_errors_are_not_failures() {
        let (breaker, _, _) = breaker();
        // 4xx answers are `Success` verdicts; cancelled calls do not count at all.
        for _ in 0..30 {
            call(&breaker, Verdict::Success);
            call(&breaker, Verdict::Ignored);
        }
        assert_eq!(breaker.state(), State::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn opens_when_most_calls_are_slow() {
        let (breaker, _, _) = breaker();
        slow_calls(&breaker, 7).await;
        calls(&breaker, Verdict::Success, 3);
        assert_eq!(breaker.state(), State::Closed, "7 slow calls in 10");
        slow_calls(&breaker, 5).await;
        assert_eq!(breaker.state(), State::Open, "12 slow calls in 15");
    }

    #[tokio::test(start_paused = true)]
    async fn old_calls_leave_the_window() {
        let (breaker, _, _) = breaker();
        calls(&breaker, Verdict::Failure, 9);
        tokio::time::advance(Duration::from_secs(11)).await;
        call(&breaker, Verdict::Failure);
        assert_eq!(breaker.state(), State::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_lets_a_single_probe_through_which_closes_or_reopens() {
        let (breaker, gauge, transitions) = breaker();
        calls(&breaker, Verdict::Failure, 10);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(breaker.state(), State::HalfOpen);
        assert_eq!(gauge.get(), 2);

        // A failed probe re-opens for another pause.
        let probe = breaker.try_acquire().unwrap();
        assert!(breaker.try_acquire().is_err(), "a second probe");
        probe.record(Verdict::Failure);
        assert_eq!(breaker.state(), State::Open);
        assert_eq!(entered(&transitions, "open"), 2);

        // A probe dropped without an outcome frees the slot for another.
        tokio::time::advance(Duration::from_secs(5)).await;
        drop(breaker.try_acquire().unwrap());
        let probe = breaker.try_acquire().unwrap();
        assert!(breaker.try_acquire().is_err(), "a second probe");
        probe.record(Verdict::Success);
        assert_eq!(breaker.state(), State::Closed);
        assert_eq!(gauge.get(), 0);
        assert_eq!(entered(&transitions, "closed"), 1);
        // Closed again with an empty window: one failure does not re-open it.
        call(&breaker, Verdict::Failure);
        assert_eq!(breaker.state(), State::Closed);
    }
}
