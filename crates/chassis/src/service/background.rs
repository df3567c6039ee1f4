//! Work that runs beside request handling (outbox relays, event consumers, sweeps, recovery
//! passes): one set per process, told to stop through one [`CancellationToken`] and awaited
//! through one [`TaskTracker`], after the server has drained and before the stores close.
//!
//! Every background task of every service starts here ([`super::Context::spawn_background`],
//! [`Background::spawn_periodic`]), so that shutdown can wait for all of them and name the
//! ones that did not stop in time instead of leaving them to be killed with the runtime.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::shutdown::Stopping;

/// The background tasks of one process. Cheap to clone; clones share the set.
#[derive(Debug, Clone, Default)]
pub struct Background {
    stop: CancellationToken,
    tasks: TaskTracker,
    /// The tasks still running, by a sequence number, so that a late stop can name them.
    running: Arc<Mutex<BTreeMap<u64, &'static str>>>,
    next: Arc<AtomicU64>,
}

/// The background tasks that were still running when the shutdown grace ran out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("background tasks did not stop within {grace:?}: {}", .tasks.join(", "))]
pub struct Lingering {
    pub grace: Duration,
    pub tasks: Vec<&'static str>,
}

impl Background {
    pub fn new() -> Background {
        Background::default()
    }

    /// The signal the tasks watch.
    pub fn stopping(&self) -> Stopping {
        Stopping::from(self.stop.clone())
    }

    /// Runs `work` until it returns; it gets the stop signal to watch.
    pub fn spawn<F, Fut>(&self, name: &'static str, work: F)
    where
        F: FnOnce(Stopping) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut running) = self.running.lock() {
            running.insert(id, name);
        }
        let running = self.running.clone();
        let work = work(self.stopping());
        self.tasks.spawn(
            async move {
                work.await;
                if let Ok(mut running) = running.lock() {
                    running.remove(&id);
                }
            }
            .instrument(tracing::info_span!("background", task = name)),
        );
    }

    /// Runs `pass` at once and then every `every` until the stop: see [`run_periodic`].
    pub fn spawn_periodic<P, Fut, T, E>(&self, name: &'static str, every: Duration, pass: P)
    where
        P: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        self.spawn(name, move |stop| run_periodic(name, every, stop, pass));
    }

    /// Tells every task to stop and waits for them, at most `grace`; names those still running.
    pub async fn stop(&self, grace: Duration) -> Result<(), Lingering> {
        self.stop.cancel();
        self.tasks.close();
        if tokio::time::timeout(grace, self.tasks.wait()).await.is_ok() {
            return Ok(());
        }
        let tasks = self
            .running
            .lock()
            .map(|running| running.values().copied().collect())
            .unwrap_or_default();
        Err(Lingering { grace, tasks })
    }
}

/// Runs `pass` now and then every `every` until `stop` fires.
///
/// A pass is never interrupted: the stop is seen between passes (also mid-sleep, at once), and
/// shutdown gives a pass in progress the grace to finish. The ticks a pass overran are skipped,
/// not made up for with a burst: the next pass starts at the next tick of the schedule. A
/// failed pass is logged with
/// the task's name and the next one tries again, since these passes repair what a failure left.
pub async fn run_periodic<P, Fut, T, E>(
    name: &'static str,
    every: Duration,
    stop: Stopping,
    mut pass: P,
) where
    P: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            // A stop and a due tick at once: stopping wins, so no pass starts after the stop.
            biased;
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        if let Err(error) = pass().await {
            tracing::warn!(task = name, %error, "a periodic pass failed; trying again at the next tick");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use tokio::time::Instant;

    use super::*;

    /// A background set running one periodic task every `every` whose passes take `takes` (of
    /// the paused clock) and are counted.
    fn counted(every: Duration, takes: Duration) -> (Background, Arc<AtomicUsize>) {
        let background = Background::new();
        let passes = Arc::new(AtomicUsize::new(0));
        let counter = passes.clone();
        background.spawn_periodic("counted", every, move || {
            let counter = counter.clone();
            async move {
                tokio::time::sleep(takes).await;
                counter.fetch_add(1, Ordering::SeqCst);
                Ok::<(), String>(())
            }
        });
        (background, passes)
    }

    fn seconds(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[tokio::test(start_paused = true)]
    async fn runs_at_once_then_every_period() {
        let (background, passes) = counted(seconds(10), Duration::ZERO);
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(
            passes.load(Ordering::SeqCst),
            1,
            "the first pass runs at once"
        );
        tokio::time::sleep(seconds(10)).await;
        assert_eq!(passes.load(Ordering::SeqCst), 2);
        tokio::time::sleep(seconds(30)).await;
        assert_eq!(passes.load(Ordering::SeqCst), 5);
        assert_eq!(background.stop(seconds(1)).await, Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_pass_is_not_made_up_for_with_a_burst() {
        // Each pass takes 25 s of a 10 s period: 0-25, then 30-55 (the ticks at 10 and 20 are
        // skipped), then 60-85.
        let (background, passes) = counted(seconds(10), seconds(25));
        tokio::time::sleep(seconds(56)).await;
        assert_eq!(passes.load(Ordering::SeqCst), 2);
        tokio::time::sleep(seconds(30)).await;
        assert_eq!(passes.load(Ordering::SeqCst), 3);
        assert_eq!(background.stop(seconds(30)).await, Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_pass_is_logged_and_the_next_one_runs() {
        let background = Background::new();
        let passes = Arc::new(AtomicUsize::new(0));
        let counter = passes.clone();
        background.spawn_periodic("failing", seconds(1), move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>("the store is away")
            }
        });
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(passes.load(Ordering::SeqCst), 3);
        assert_eq!(background.stop(seconds(1)).await, Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn stops_at_once_mid_sleep() {
        let (background, passes) = counted(seconds(3600), Duration::ZERO);
        tokio::time::sleep(seconds(1)).await;
        let started = Instant::now();
        assert_eq!(background.stop(seconds(5)).await, Ok(()));
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "no waiting for the next tick"
        );
        assert_eq!(passes.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pass_in_progress_finishes_within_the_grace() {
        let (background, passes) = counted(seconds(60), seconds(3));
        tokio::time::sleep(seconds(1)).await;
        let started = Instant::now();
        assert_eq!(background.stop(seconds(5)).await, Ok(()));
        assert_eq!(started.elapsed(), seconds(2), "the pass ran to its end");
        assert_eq!(passes.load(Ordering::SeqCst), 1, "and counted");
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_outlives_the_grace_is_named() {
        let background = Background::new();
        background.spawn("stubborn", |_stop| std::future::pending::<()>());
        background.spawn("polite", |mut stop| async move { stop.stopped().await });
        let lingering = background.stop(seconds(2)).await.unwrap_err();
        assert_eq!(lingering.tasks, vec!["stubborn"]);
        assert!(lingering.to_string().contains("stubborn"), "{lingering}");
    }
}
