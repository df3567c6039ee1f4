//! The recovery loop: in every instance, at start and then every interval, claim the unfinished
//! sagas whose lease has lapsed (their driver crashed, or was stopped) and resume them.
//!
//! Claiming is one conditional UPDATE per saga ([`crate::store::Store::claim`]), so when several
//! instances' loops race for one saga exactly one wins; the winner renews the lease while it
//! drives, and a crashed winner's lease lapses for the next pass of any instance.

use std::time::Duration;

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

/// Runs [`recover_once`] now and then every `interval`, for the life of the process.
pub fn spawn(saga: Saga, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(e) = recover_once(&saga).await {
                tracing::warn!(error = %e, "the recovery pass failed; trying again next interval");
            }
        }
    })
}
