//! The recovery loop: in every instance, at start and then every interval, claim the unfinished
//! sagas whose lease has lapsed (their driver crashed, or was stopped) and resume them.
//!
//! Claiming is one conditional UPDATE per saga ([`crate::store::Store::claim`]), so when several
//! instances' loops race for one saga exactly one wins; the winner renews the lease while it
//! drives, and a crashed winner's lease lapses for the next pass of any instance.

use std::time::Duration;

use brigade_chassis::service::Background;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::{now_ms, Ended, Saga};
use crate::store;

/// The most sagas one pass claims; the rest wait for the next pass.
const BATCH: u32 = 100;

/// Claims every saga whose lease has lapsed (up to a batch) and starts driving each on its own
/// task. Returns the tasks, for tests that wait for them.
pub async fn recover_once(saga: &Saga) -> Result<Vec<(Uuid, JoinHandle<Ended>)>, store::Error> {
    let now = now_ms();
    let mut driving = Vec::new();
    for order_id in saga.store.claimable(now, BATCH).await? {
        if !saga.store.claim(order_id, &saga.lease, now).await? {
            continue;
        }
        tracing::info!(order = %order_id, "resuming an unfinished saga");
        let driver = saga.clone();
        driving.push((
            order_id,
            tokio::spawn(async move { driver.drive(order_id).await }),
        ));
    }
    Ok(driving)
}

/// Runs [`recover_once`] now and then every `interval` until the instance stops. The sagas a
/// pass resumes drive on their own tasks, as the sagas of checkouts do; a process that exits in
/// the middle of one leaves its lease to lapse, and any instance's next pass resumes it.
pub fn start(background: &Background, saga: Saga, interval: Duration) {
    background.spawn_periodic("saga recovery", interval, move || {
        let saga = saga.clone();
        async move { recover_once(&saga).await }
    });
}
