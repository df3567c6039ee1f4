//! The expiry sweep: a background task in every instance that expires held reservations past
//! their time, so that abandoned checkouts give their units back.
//!
//! Every instance runs one; the store makes concurrent sweeps safe (see
//! [`Store::expire_due`]), so there is no leader to elect and no single point to fail.

use std::time::Duration;

use brigade_chassis::service::Background;

use crate::store::Store;

/// How often each instance sweeps. A reservation outlives its time by at most about this long.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Sweeps `store` at once and then every `every` until the instance stops (the chassis stops
/// its background tasks after the server has drained and before the store closes).
pub fn start(background: &Background, store: Store, every: Duration) {
    background.spawn_periodic("expiry sweep", every, move || {
        let store = store.clone();
        // Expiry times are wall-clock times shared with other instances, so "now" is too.
        async move { store.expire_due(brigade_chassis::time::unix_ms()).await }
    });
}
