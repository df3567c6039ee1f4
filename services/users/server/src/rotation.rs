//! Rotating the signing key on a schedule. Every instance checks on a timer whether the active key
//! has reached the rotation interval; the store's lock makes the first to find it due rotate, and
//! the others then find a new key, so a fleet rotates once per interval.

use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::keys::KeyRing;

/// How often an instance checks: often enough that a rotation is at most a quarter interval (and
/// at most a minute) late, rarely enough to cost nothing.
pub fn check_every(interval: Duration) -> Duration {
    (interval / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// The background task; it stops when this is dropped (with the router that holds it).
#[derive(Debug)]
pub struct RotationTask {
    handle: JoinHandle<()>,
}

impl Drop for RotationTask {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Starts checking, the first time at once (a store left alone for days rotates on start).
pub fn spawn(keys: KeyRing, interval: Duration) -> RotationTask {
    let task = async move {
        let mut ticker = tokio::time::interval(check_every(interval));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match keys.rotate_if_older_than(interval).await {
                Ok(Some(kid)) => {
                    tracing::info!(%kid, "the signing key reached its rotation interval")
                }
                Ok(None) => {}
                // Transient (the store is briefly unavailable): the next tick tries again.
                Err(e) => {
                    tracing::warn!(error = %e, "cannot check whether the signing key is due for rotation")
                }
            }
        }
    };
    // In the starting instance's span, so that its log lines name the service and instance.
    let handle = tokio::spawn(task.in_current_span());
    RotationTask { handle }
}
