//! Rotating the signing key on a schedule. Every instance checks on a timer whether the active key
//! has reached the rotation interval; the store's lock makes the first to find it due rotate, and
//! the others then find a new key, so a fleet rotates once per interval.

use std::time::Duration;

use brigade_chassis::service::Background;

use crate::keys::KeyRing;

/// How often an instance checks: often enough that a rotation is at most a quarter interval (and
/// at most a minute) late, rarely enough to cost nothing.
pub fn check_every(interval: Duration) -> Duration {
    (interval / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Starts checking, the first time at once (a store left alone for days rotates on start), until
/// the instance stops. A failed check (the store is briefly unavailable) is logged by the chassis
/// and the next one tries again.
pub fn start(background: &Background, keys: KeyRing, interval: Duration) {
    background.spawn_periodic("key rotation", check_every(interval), move || {
        let keys = keys.clone();
        async move {
            if let Some(kid) = keys.rotate_if_older_than(interval).await? {
                tracing::info!(%kid, "the signing key reached its rotation interval");
            }
            Ok::<(), crate::keys::Error>(())
        }
    });
}
