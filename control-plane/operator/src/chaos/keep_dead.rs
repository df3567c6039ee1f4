//! Keeping a service dead: every process of it is killed as soon as the supervisor has
//! restarted it, as in a crash loop (a bad deploy, a poisoned host). A single `brigade chaos
//! kill` is repaired within a restart backoff; this is the outage that lasts. Used by the
//! end-to-end tests and by `brigade bench degradation`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use brigade_supervisor::signal_group;

/// How often the system view is asked for new processes of the service.
const LOOK_EVERY: Duration = Duration::from_millis(20);

/// Kills the service's processes until [`KeepDead::stop`] (or drop).
#[derive(Debug)]
pub struct KeepDead {
    running: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<u32>>,
}

impl KeepDead {
    /// Kills every current process of `service` in the system whose control plane is at
    /// `control_url` (which must run on this machine: processes are signalled by pid), waits
    /// until they are gone, and keeps killing their replacements.
    pub async fn start(control_url: &str, service: &str) -> anyhow::Result<KeepDead> {
        let first = pids(control_url, service).await?;
        anyhow::ensure!(
            !first.is_empty(),
            "the system has no running {service} process to kill"
        );
        for pid in &first {
            signal_group(*pid, rustix::process::Signal::KILL);
        }
        while first.iter().any(|pid| alive(*pid)) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let running = Arc::new(AtomicBool::new(true));
        let (flag, control_url, service) =
            (running.clone(), control_url.to_owned(), service.to_owned());
        let task = tokio::spawn(async move {
            let mut kills = u32::try_from(first.len()).unwrap_or(u32::MAX);
            while flag.load(Ordering::SeqCst) {
                for pid in pids(&control_url, &service).await.unwrap_or_default() {
                    if alive(pid) {
                        signal_group(pid, rustix::process::Signal::KILL);
                        kills = kills.saturating_add(1);
                    }
                }
                tokio::time::sleep(LOOK_EVERY).await;
            }
            kills
        });
        Ok(KeepDead {
            running,
            task: Some(task),
        })
    }

    /// Lets the supervisor restart the service; returns how many processes were killed.
    pub async fn stop(mut self) -> u32 {
        self.running.store(false, Ordering::SeqCst);
        match self.task.take() {
            Some(task) => task.await.unwrap_or(0),
            None => 0,
        }
    }
}

impl Drop for KeepDead {
    fn drop(&mut self) {
        self.running.store(false, Ordering::SeqCst);
    }
}

/// The pids the system view lists for `service`.
async fn pids(control_url: &str, service: &str) -> anyhow::Result<Vec<u32>> {
    let view = crate::status::fetch(control_url).await?;
    Ok(view.instances_of(service).filter_map(|i| i.pid).collect())
}

/// Whether `pid` runs (a zombie has exited; only its entry remains until it is reaped).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.contains(") Z "))
        .unwrap_or(false)
}
