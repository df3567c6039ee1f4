//! The expiry sweep: a background task in every instance that expires held reservations past
//! their time, so that abandoned checkouts give their units back.
//!
//! Every instance runs one; the store makes concurrent sweeps safe (see
//! [`Store::expire_due`]), so there is no leader to elect and no single point to fail.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::store::Store;

/// How often each instance sweeps. A reservation outlives its time by at most about this long.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Sweeps `store` every `every` until the store is closed (the instance is stopping).
pub fn spawn(store: Store, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        // A slow sweep is not made up for with a burst of sweeps.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if store.is_closed() {
                return;
            }
            // Expiry times are wall-clock times shared with other instances, so "now" is too.
            if let Err(error) = store.expire_due(brigade_chassis::time::unix_ms()).await {
                if store.is_closed() {
                    return;
                }
                tracing::warn!(%error, "the expiry sweep failed; trying again at the next tick");
            }
        }
    })
}
