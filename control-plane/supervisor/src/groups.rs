//! Resizing a group while it runs: slots added from the group's first spec, slots removed by
//! stopping their process (SIGTERM, then SIGKILL after a grace) and forgetting them. What a new
//! slot must do before it counts (be ready) and in which order a rolling restart adds and
//! removes slots is the caller's business: the supervisor only starts and stops processes.
//!
//! Slots are numbered from 1 (`orders-1`); a new slot takes the lowest number free, a shrinking
//! group loses its highest numbers first, so that the numbers stay small and the first slots,
//! which have run longest, stay.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{lock, ProcessSpec, SlotStatus, Supervisor};

/// The most processes one group may have: more would only starve a laptop.
pub const MAX_INSTANCES: u32 = 32;

/// Why a group could not be resized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResizeError {
    #[error("there is no service `{group}`; the system runs {known}")]
    UnknownGroup { group: String, known: String },
    #[error("{group} cannot run {wanted} instances: at most {MAX_INSTANCES}")]
    TooMany { group: String, wanted: u32 },
    #[error("{group} is stopping; it takes no new instance")]
    Stopped { group: String },
    #[error("there is no slot `{0}`")]
    UnknownSlot(String),
}

/// What a resize did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resize {
    /// The slots started, in order.
    pub added: Vec<String>,
    /// The slots stopped and forgotten, as they were last seen.
    pub removed: Vec<SlotStatus>,
}

/// Which slots to add and which to remove so that `group`, whose slots are `existing`, has
/// `wanted`: new slots take the lowest free numbers, the highest numbers go first.
pub fn plan_resize(group: &str, existing: &[String], wanted: u32) -> (Vec<String>, Vec<String>) {
    let number =
        |slot: &str| -> Option<u32> { slot.strip_prefix(group)?.strip_prefix('-')?.parse().ok() };
    let mut numbered: Vec<(u32, &String)> = existing
        .iter()
        .map(|slot| (number(slot).unwrap_or(u32::MAX), slot))
        .collect();
    numbered.sort();
    let wanted = wanted as usize;
    if numbered.len() >= wanted {
        let removed = numbered[wanted..]
            .iter()
            .rev()
            .map(|(_, slot)| (*slot).clone())
            .collect();
        return (Vec::new(), removed);
    }
    let taken: Vec<u32> = numbered.iter().map(|(n, _)| *n).collect();
    let added = (1..)
        .filter(|n| !taken.contains(n))
        .take(wanted - numbered.len())
        .map(|n| format!("{group}-{n}"))
        .collect();
    (added, Vec::new())
}

impl Supervisor {
    /// How many slots `group` should have: its initial count, as changed by [`Supervisor::resize`].
    pub fn desired(&self, group: &str) -> Option<u32> {
        lock(&self.inner.groups)
            .iter()
            .find(|g| g.template.group == group)
            .map(|g| g.desired)
    }

    /// The slots of `group`, in the order they were started.
    pub fn slots_of(&self, group: &str) -> Vec<SlotStatus> {
        self.snapshot()
            .into_iter()
            .filter(|s| s.group == group)
            .collect()
    }

    /// Whether `group` can take new slots: it exists and is not stopping.
    pub fn check_group(&self, group: &str) -> Result<(), ResizeError> {
        self.template(group).map(drop)
    }

    /// The spec a new slot of `group` runs, or why there can be none.
    fn template(&self, group: &str) -> Result<ProcessSpec, ResizeError> {
        let groups = lock(&self.inner.groups);
        let Some(entry) = groups.iter().find(|g| g.template.group == group) else {
            return Err(ResizeError::UnknownGroup {
                group: group.to_owned(),
                known: groups
                    .iter()
                    .map(|g| g.template.group.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        if entry.stopped {
            return Err(ResizeError::Stopped {
                group: group.to_owned(),
            });
        }
        Ok(entry.template.clone())
    }

    /// Starts one more slot of `group` (the lowest number free), without changing how many the
    /// group wants: a rolling restart's replacement, before the slot it replaces is removed.
    pub fn add_slot(&self, group: &str) -> Result<String, ResizeError> {
        let template = self.template(group)?;
        let existing: Vec<String> = self.slots_of(group).into_iter().map(|s| s.slot).collect();
        let wanted = u32::try_from(existing.len() + 1).unwrap_or(u32::MAX);
        let (added, _) = plan_resize(group, &existing, wanted);
        let slot = added
            .into_iter()
            .next()
            .unwrap_or_else(|| format!("{group}-{wanted}"));
        self.launch(ProcessSpec {
            slot: slot.clone(),
            ..template
        });
        Ok(slot)
    }

    /// Stops `slot`'s process (SIGTERM, SIGKILL after `grace`), not to be restarted, waits until
    /// it has exited and forgets the slot; returns the slot as it was last seen.
    pub async fn remove_slot(
        &self,
        slot: &str,
        grace: Duration,
    ) -> Result<SlotStatus, ResizeError> {
        let mut done = {
            let slots = lock(&self.inner.slots);
            let entry = slots
                .iter()
                .find(|s| lock(&s.status).slot == slot)
                .ok_or_else(|| ResizeError::UnknownSlot(slot.to_owned()))?;
            entry.stop.send_if_modified(|current| match current {
                Some(existing) if *existing <= grace => false,
                _ => {
                    *current = Some(grace);
                    true
                }
            });
            entry.done.clone()
        };
        let _ = done.wait_for(|d| *d).await;
        let mut slots = lock(&self.inner.slots);
        let index = slots
            .iter()
            .position(|s| lock(&s.status).slot == slot)
            .ok_or_else(|| ResizeError::UnknownSlot(slot.to_owned()))?;
        let removed = slots.remove(index);
        let last = lock(&removed.status).clone();
        Ok(last)
    }

    /// Makes `group` run `wanted` slots: starts the missing ones (not waiting for them to be
    /// ready) or stops the extra ones all at once, each with `grace`, returning once they have
    /// exited.
    pub async fn resize(
        &self,
        group: &str,
        wanted: u32,
        grace: Duration,
    ) -> Result<Resize, ResizeError> {
        if wanted > MAX_INSTANCES {
            return Err(ResizeError::TooMany {
                group: group.to_owned(),
                wanted,
            });
        }
        self.template(group)?;
        if let Some(entry) = lock(&self.inner.groups)
            .iter_mut()
            .find(|g| g.template.group == group)
        {
            entry.desired = wanted;
        }
        let existing: Vec<String> = self.slots_of(group).into_iter().map(|s| s.slot).collect();
        let (add, remove) = plan_resize(group, &existing, wanted);
        let mut resize = Resize::default();
        for _ in &add {
            resize.added.push(self.add_slot(group)?);
        }
        let stopped =
            futures_util::future::join_all(remove.iter().map(|slot| self.remove_slot(slot, grace)))
                .await;
        for outcome in stopped {
            resize.removed.push(outcome?);
        }
        Ok(resize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{sh, supervisor, wait_until};
    use crate::{Backoff, Event};

    fn names(slots: &[&str]) -> Vec<String> {
        slots.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn new_slots_take_the_lowest_free_numbers_and_the_highest_go_first() {
        let plan = |existing: &[&str], wanted| plan_resize("orders", &names(existing), wanted);
        assert_eq!(
            plan(&["orders-1", "orders-2"], 4),
            (names(&["orders-3", "orders-4"]), vec![])
        );
        assert_eq!(
            plan(&["orders-1", "orders-3", "orders-4", "orders-2"], 1),
            (vec![], names(&["orders-4", "orders-3", "orders-2"]))
        );
        // A gap left by a rolling restart is filled first.
        assert_eq!(
            plan(&["orders-2", "orders-3"], 3),
            (names(&["orders-1"]), vec![])
        );
        assert_eq!(plan(&["orders-1"], 1), (vec![], vec![]));
        assert_eq!(plan(&["orders-1"], 0), (vec![], names(&["orders-1"])));
        // A service whose name ends like a number is still told apart.
        assert_eq!(
            plan_resize("web-2", &names(&["web-2-1"]), 2),
            (names(&["web-2-2"]), vec![])
        );
    }

    #[tokio::test]
    async fn a_group_grows_and_shrinks_while_it_runs() {
        let (supervisor, events, lines) = supervisor(Backoff::default());
        supervisor.start(sh(
            "test-1",
            "trap 'exit 0' TERM; echo ready; while true; do sleep 0.05; done",
        ));
        assert_eq!(supervisor.desired("test"), Some(1));

        let grown = supervisor
            .resize("test", 3, Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!(grown.added, ["test-2", "test-3"]);
        assert_eq!(supervisor.desired("test"), Some(3));
        // Running is not enough: a SIGTERM before its `trap` would end a process at once.
        wait_until("three trapping SIGTERM", || {
            let lines = lines.lock().unwrap();
            lines.iter().filter(|(_, _, line)| line == "ready").count() == 3
        })
        .await;
        // A new slot runs the group's program with its own instance ids.
        let started: Vec<String> = events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Started { slot, .. } => Some(slot.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(started, ["test-1", "test-2", "test-3"]);
        let pids: Vec<u32> = supervisor
            .slots_of("test")
            .iter()
            .filter_map(|s| s.pid)
            .collect();

        let shrunk = supervisor
            .resize("test", 1, Duration::from_secs(2))
            .await
            .unwrap();
        let removed: Vec<(&str, Option<&str>)> = shrunk
            .removed
            .iter()
            .map(|s| (s.slot.as_str(), s.last_exit.as_deref()))
            .collect();
        // Asked to leave with SIGTERM, they left on their own; and they stay gone.
        assert_eq!(
            removed,
            [
                ("test-3", Some("exit status: 0")),
                ("test-2", Some("exit status: 0"))
            ]
        );
        let left: Vec<String> = supervisor.snapshot().into_iter().map(|s| s.slot).collect();
        assert_eq!(left, ["test-1"]);
        for pid in &pids[1..] {
            assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
        }
        assert!(events.lock().unwrap().iter().any(|(_, e)| matches!(
            e,
            Event::Exited { slot, restart_in: None, .. } if slot == "test-3"
        )));

        // To nothing and back: the group keeps its program.
        supervisor
            .resize("test", 0, Duration::from_secs(2))
            .await
            .unwrap();
        assert!(supervisor.slots_of("test").is_empty());
        assert_eq!(supervisor.groups(), ["test"]);
        let again = supervisor
            .resize("test", 1, Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!(again.added, ["test-1"]);
        supervisor.stop_all(Duration::from_secs(2)).await;
        assert_eq!(
            supervisor.add_slot("test"),
            Err(ResizeError::Stopped {
                group: "test".into()
            })
        );
    }

    #[tokio::test]
    async fn a_replacement_runs_beside_the_slot_it_replaces() {
        let (supervisor, _events, lines) = supervisor(Backoff::default());
        supervisor.start(sh(
            "test-1",
            "trap 'exit 0' TERM; echo ready; while true; do sleep 0.05; done",
        ));
        wait_until("the first trapping SIGTERM", || {
            !lines.lock().unwrap().is_empty()
        })
        .await;
        let replacement = supervisor.add_slot("test").unwrap();
        assert_eq!(replacement, "test-2");
        // Adding a slot does not change what the group wants: the replacement is temporary.
        assert_eq!(supervisor.desired("test"), Some(1));
        wait_until("both running", || lines.lock().unwrap().len() == 2).await;
        let old = supervisor
            .remove_slot("test-1", Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!(old.last_exit.as_deref(), Some("exit status: 0"));
        let left: Vec<String> = supervisor.snapshot().into_iter().map(|s| s.slot).collect();
        assert_eq!(left, ["test-2"]);
        supervisor.stop_all(Duration::from_secs(2)).await;
    }

    #[tokio::test]
    async fn impossible_sizes_and_unknown_names_are_refused() {
        let (supervisor, _events, _lines) = supervisor(Backoff::default());
        supervisor.start(sh(
            "test-1",
            "trap 'exit 0' TERM; while true; do sleep 0.05; done",
        ));
        assert_eq!(
            supervisor.resize("test", 33, Duration::ZERO).await,
            Err(ResizeError::TooMany {
                group: "test".into(),
                wanted: 33
            })
        );
        assert_eq!(
            supervisor.resize("nope", 2, Duration::ZERO).await,
            Err(ResizeError::UnknownGroup {
                group: "nope".into(),
                known: "test".into()
            })
        );
        assert_eq!(
            supervisor.remove_slot("nope-1", Duration::ZERO).await,
            Err(ResizeError::UnknownSlot("nope-1".into()))
        );
        assert_eq!(supervisor.desired("test"), Some(1));
        supervisor.stop_all(Duration::from_secs(2)).await;
    }
}
