//! The steps of a scale and of a rolling restart, over the supervisor (which starts and stops
//! processes) and the registry (where a new instance shows that it has started serving).
//!
//! Removing an instance is only ever SIGTERM with a grace: the chassis then leaves in its
//! documented order (not ready, deregister, pause, stop accepting, drain, exit), so callers,
//! which watch the registry, stop choosing it before it stops accepting. A replacement is
//! started and waited for before the instance it replaces is removed, so the service never has
//! fewer ready instances than it had.

use std::sync::Arc;
use std::time::Duration;

use brigade_chassis::client::plain::PlainClient;
use brigade_registry::Registry;
use brigade_supervisor::{ResizeError, Supervisor};
use tokio::time::Instant;

use super::{Replaced, RestartReport, ScaleReport, Started};
use crate::system::{probe, Health};

/// How long a new instance may take to become ready. Below the control port's request limit,
/// so that the caller hears why rather than a time-out.
pub(super) const READY_TIMEOUT: Duration = Duration::from_secs(50);

/// Why a scale or restart did not complete.
#[derive(Debug, thiserror::Error)]
pub(super) enum Failed {
    #[error(transparent)]
    Resize(#[from] ResizeError),
    #[error("this control plane supervises no processes")]
    Unsupervised,
    #[error("another scale or restart is under way; try again when it has finished")]
    Busy,
    #[error(
        "{slots} did not become ready within {}s; {what}",
        READY_TIMEOUT.as_secs()
    )]
    NotReady { slots: String, what: &'static str },
}

/// Scales and restarts; one change at a time.
#[derive(Clone)]
pub(super) struct Rollout {
    supervisor: Option<Supervisor>,
    registry: Registry,
    client: PlainClient,
    grace: Duration,
    busy: Arc<tokio::sync::Mutex<()>>,
}

impl Rollout {
    pub(super) fn new(
        supervisor: Option<Supervisor>,
        registry: Registry,
        grace: Duration,
    ) -> Rollout {
        Rollout {
            supervisor,
            registry,
            client: PlainClient::new(crate::system::PROBE_TIMEOUT),
            grace,
            busy: Arc::default(),
        }
    }

    /// The supervisor and the right to change the system, held until the change is done.
    fn begin(&self) -> Result<(&Supervisor, tokio::sync::OwnedMutexGuard<()>), Failed> {
        let supervisor = self.supervisor.as_ref().ok_or(Failed::Unsupervised)?;
        let guard = self
            .busy
            .clone()
            .try_lock_owned()
            .map_err(|_| Failed::Busy)?;
        Ok((supervisor, guard))
    }

    /// Makes `service` run `wanted` instances: new ones started and waited for until ready,
    /// extra ones drained and exited.
    pub(super) async fn scale(&self, service: &str, wanted: u32) -> Result<ScaleReport, Failed> {
        let (supervisor, _guard) = self.begin()?;
        let from = supervisor.slots_of(service).len() as u32;
        let resize = supervisor.resize(service, wanted, self.grace).await?;
        let starting = resize
            .added
            .iter()
            .map(|slot| self.wait_ready(supervisor, slot));
        let mut added = Vec::new();
        let mut late = Vec::new();
        for (slot, outcome) in resize
            .added
            .iter()
            .zip(futures_util::future::join_all(starting).await)
        {
            match outcome {
                Some(started) => added.push(started),
                None => late.push(slot.clone()),
            }
        }
        if !late.is_empty() {
            return Err(Failed::NotReady {
                slots: late.join(", "),
                what: "they keep starting (their lines in `brigade logs` say why)",
            });
        }
        tracing::info!(service, from, to = wanted, "scaled");
        Ok(ScaleReport {
            service: service.to_owned(),
            from,
            to: wanted,
            added,
            removed: resize.removed.into_iter().map(|s| s.slot).collect(),
        })
    }

    /// Replaces every instance of `service`, one at a time: a new one started, waited for until
    /// ready, then the old one drained and exited.
    pub(super) async fn restart(&self, service: &str) -> Result<RestartReport, Failed> {
        let (supervisor, _guard) = self.begin()?;
        supervisor.check_group(service)?;
        let old = supervisor.slots_of(service);
        let mut replaced = Vec::new();
        for slot in old {
            let new_slot = supervisor.add_slot(service)?;
            let Some(new) = self.wait_ready(supervisor, &new_slot).await else {
                // The old instance keeps serving; the one that could not start goes.
                let _ = supervisor.remove_slot(&new_slot, self.grace).await;
                return Err(Failed::NotReady {
                    slots: new_slot,
                    what: "it was stopped and the instance it was to replace keeps serving",
                });
            };
            supervisor.remove_slot(&slot.slot, self.grace).await?;
            tracing::info!(service, old = slot.slot, new = new.slot, "replaced");
            replaced.push(Replaced {
                old_slot: slot.slot,
                old_instance_id: slot.instance_id.filter(|_| slot.pid.is_some()),
                new,
            });
        }
        Ok(RestartReport {
            service: service.to_owned(),
            replaced,
        })
    }

    /// Waits until `slot`'s process has registered and its `/readyz` answers 200; `None` after
    /// [`READY_TIMEOUT`].
    async fn wait_ready(&self, supervisor: &Supervisor, slot: &str) -> Option<Started> {
        let started = Instant::now();
        while started.elapsed() < READY_TIMEOUT {
            let status = supervisor
                .snapshot()
                .into_iter()
                .find(|s| s.slot == slot && s.pid.is_some());
            let record = status
                .as_ref()
                .and_then(|s| s.instance_id.as_deref())
                .and_then(|id| self.registry.instance(id));
            if let (Some(status), Some(record)) = (status, record) {
                let address = record.registration.address;
                if probe(&self.client, &address).await.0 == Health::Ready {
                    let now = brigade_chassis::time::unix_ms();
                    return Some(Started {
                        slot: slot.to_owned(),
                        instance_id: record.registration.instance_id,
                        address,
                        ready_after_ms: now.saturating_sub(status.started_at_ms.unwrap_or(now)),
                    });
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}
