//! The supervisor: runs programs as child processes, forwards their output line by line, restarts
//! them with exponential backoff when they exit, and stops them with SIGTERM, then SIGKILL.
//!
//! It is generic over what it runs (a [`ProcessSpec`] is a program, arguments and environment),
//! so that it can be tested with `sh -c …` and knows nothing of services. What a start or an
//! exit means to the rest of the system (e.g. deregistering the instance) is the [`Observer`]'s
//! business, called synchronously the moment it happens.
//!
//! Each slot (e.g. `catalog-1`) runs one process at a time; every start gets a fresh instance id
//! (`catalog-1-3fa9c2`), because a restarted process is a new instance to everyone who called
//! the old one. Each child leads its own process group: a Ctrl-C in the terminal then reaches
//! only `brigade`, which stops the children in its own order, and signals reach a child's own
//! children too.

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

mod groups;
pub use groups::{plan_resize, Resize, ResizeError, MAX_INSTANCES};

/// What to run in one slot.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// The slot's stable name, e.g. `catalog-1`: prefixes its log lines, survives restarts.
    pub slot: String,
    /// The group it is stopped with, e.g. `catalog`.
    pub group: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The environment variable that receives each start's instance id, if any.
    pub instance_id_env: Option<String>,
}

/// How long to wait before restarting a process that exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay after the first exit.
    pub initial: Duration,
    /// The delay doubles with every consecutive exit up to this.
    pub max: Duration,
    /// A process that ran at least this long counts as stable: its exit starts over at `initial`.
    pub reset_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
            reset_after: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The delay before the restart that follows `failures` consecutive exits (1 = the first).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.initial.saturating_mul(1 << doublings).min(self.max)
    }
}

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Something that happened to a slot's process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Started {
        slot: String,
        group: String,
        instance_id: String,
        pid: u32,
        restarts: u32,
    },
    Exited {
        slot: String,
        group: String,
        instance_id: String,
        pid: u32,
        /// How it ended, e.g. `exit status: 1` or `signal: 9 (SIGKILL)`.
        status: String,
        ran_for: Duration,
        /// `None` when it was stopped on purpose and will not be restarted.
        restart_in: Option<Duration>,
    },
    SpawnFailed {
        slot: String,
        group: String,
        error: String,
        restart_in: Option<Duration>,
    },
}

/// Called on every [`Event`], synchronously, from the slot's task: keep it quick.
pub type Observer = Arc<dyn Fn(&Event) + Send + Sync>;
/// Called with every line a child writes (without its line ending).
pub type LineSink = Arc<dyn Fn(&str, Stream, &str) + Send + Sync>;

/// What a slot is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum SlotState {
    Starting,
    Running,
    /// Waiting to restart at this Unix time (milliseconds).
    BackingOff {
        restart_at_ms: u64,
    },
    Stopping,
    Stopped,
}

/// A slot as seen from outside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotStatus {
    pub slot: String,
    pub group: String,
    pub state: SlotState,
    /// The current (or last) process's instance id.
    pub instance_id: Option<String>,
    pub pid: Option<u32>,
    /// When the current process started, Unix milliseconds.
    pub started_at_ms: Option<u64>,
    /// How many times the slot's process has been started again after an exit.
    pub restarts: u32,
    /// How the last process ended, e.g. `exit status: 1`.
    pub last_exit: Option<String>,
    /// The current process was paused on purpose (SIGSTOP, `brigade chaos pause`).
    #[serde(default)]
    pub paused: bool,
}

struct Slot {
    group: String,
    status: Arc<Mutex<SlotStatus>>,
    /// `Some(grace)` asks the slot to stop, giving its process `grace` between SIGTERM and SIGKILL;
    /// `Some(ZERO)` kills it now, also when it is already being stopped more gently.
    stop: watch::Sender<Option<Duration>>,
    /// Becomes true when the slot's task has ended (its process is gone, not to be restarted).
    done: watch::Receiver<bool>,
}

/// Marks a slot done when its task ends, however it ends.
struct DoneGuard(watch::Sender<bool>);

impl Drop for DoneGuard {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

/// A group as the supervisor keeps it: what a new slot of it runs, and how many slots it should
/// have.
struct Group {
    /// The spec of its first slot; a new slot runs it under its own name.
    template: ProcessSpec,
    desired: u32,
    /// Stopped for good (`brigade up` is stopping): it takes no new slot.
    stopped: bool,
}

struct Inner {
    slots: Mutex<Vec<Slot>>,
    /// In the order each group's first slot was started: the order they are stopped in reverse.
    groups: Mutex<Vec<Group>>,
    backoff: Backoff,
    observer: Observer,
    sink: LineSink,
}

/// Runs and watches child processes; cheap to clone.
#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("backoff", &self.inner.backoff)
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Supervisor {
    pub fn new(backoff: Backoff, observer: Observer, sink: LineSink) -> Supervisor {
        Supervisor {
            inner: Arc::new(Inner {
                slots: Mutex::new(Vec::new()),
                groups: Mutex::new(Vec::new()),
                backoff,
                observer,
                sink,
            }),
        }
    }

    /// Starts supervising `spec` in a task of its own (so must run inside a tokio runtime). The
    /// group wants one slot more; its first spec is what [`Supervisor::add_slot`] runs later.
    pub fn start(&self, spec: ProcessSpec) {
        {
            let mut groups = lock(&self.inner.groups);
            match groups.iter_mut().find(|g| g.template.group == spec.group) {
                Some(group) => group.desired += 1,
                None => groups.push(Group {
                    template: spec.clone(),
                    desired: 1,
                    stopped: false,
                }),
            }
        }
        self.launch(spec);
    }

    /// Supervises `spec` in its slot, without changing what its group wants.
    fn launch(&self, spec: ProcessSpec) {
        let status = Arc::new(Mutex::new(SlotStatus {
            slot: spec.slot.clone(),
            group: spec.group.clone(),
            state: SlotState::Starting,
            instance_id: None,
            pid: None,
            started_at_ms: None,
            restarts: 0,
            last_exit: None,
            paused: false,
        }));
        let (stop, stop_rx) = watch::channel(None);
        let (done_tx, done) = watch::channel(false);
        let group = spec.group.clone();
        tokio::spawn(run_slot(
            spec,
            self.inner.clone(),
            status.clone(),
            stop_rx,
            DoneGuard(done_tx),
        ));
        lock(&self.inner.slots).push(Slot {
            group,
            status,
            stop,
            done,
        });
    }

    /// Every slot, in the order they were started.
    pub fn snapshot(&self) -> Vec<SlotStatus> {
        lock(&self.inner.slots)
            .iter()
            .map(|slot| lock(&slot.status).clone())
            .collect()
    }

    /// The groups, in the order their first slot was started (also those resized to nothing).
    pub fn groups(&self) -> Vec<String> {
        lock(&self.inner.groups)
            .iter()
            .map(|g| g.template.group.clone())
            .collect()
    }

    /// Stops every process of `group` at once: SIGTERM, then SIGKILL after `grace`. Returns when
    /// they have all exited; they are not restarted.
    pub async fn stop_group(&self, group: &str, grace: Duration) {
        if let Some(entry) = lock(&self.inner.groups)
            .iter_mut()
            .find(|g| g.template.group == group)
        {
            entry.stopped = true;
        }
        let waits: Vec<watch::Receiver<bool>> = lock(&self.inner.slots)
            .iter()
            .filter(|slot| slot.group == group)
            .map(|slot| {
                // A gentler request must not undo a harsher one already made.
                slot.stop.send_if_modified(|current| match current {
                    Some(existing) if *existing <= grace => false,
                    _ => {
                        *current = Some(grace);
                        true
                    }
                });
                slot.done.clone()
            })
            .collect();
        for mut done in waits {
            let _ = done.wait_for(|d| *d).await;
        }
    }

    /// Stops every group, the last started first, each with `grace`.
    pub async fn stop_all(&self, grace: Duration) {
        for group in self.groups().iter().rev() {
            self.stop_group(group, grace).await;
        }
    }

    /// SIGKILLs every process now, also those already being stopped gently (a second Ctrl-C),
    /// and returns when they are gone.
    pub async fn kill_all(&self) {
        self.stop_all(Duration::ZERO).await;
    }
}

/// A signal sent on purpose to one slot's process (`brigade chaos kill|pause|resume`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessFault {
    /// SIGKILL to the process group: a crash, after which the slot restarts as after any exit.
    Kill,
    /// SIGSTOP to the process group: the process holds its sockets but answers nothing.
    Pause,
    /// SIGCONT to the process group: a paused process carries on.
    Resume,
}

impl ProcessFault {
    /// The word for it in URLs and messages.
    pub fn name(self) -> &'static str {
        match self {
            ProcessFault::Kill => "kill",
            ProcessFault::Pause => "pause",
            ProcessFault::Resume => "resume",
        }
    }
}

/// What a [`ProcessFault`] did to one slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultOutcome {
    pub slot: String,
    /// The process signalled; `None` when there was none (resuming a slot that is not running).
    pub pid: Option<u32>,
    /// False when the slot was already as asked (pausing a paused slot, resuming a running one).
    pub changed: bool,
}

/// Why a [`ProcessFault`] could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    #[error("there is no slot `{0}`")]
    UnknownSlot(String),
    #[error("{slot} has no running process to {fault} (it is {state})")]
    NotRunning {
        slot: String,
        fault: &'static str,
        state: &'static str,
    },
}

impl SlotState {
    /// The state as one word, e.g. `backing_off`.
    pub fn name(&self) -> &'static str {
        match self {
            SlotState::Starting => "starting",
            SlotState::Running => "running",
            SlotState::BackingOff { .. } => "backing_off",
            SlotState::Stopping => "stopping",
            SlotState::Stopped => "stopped",
        }
    }
}

impl Supervisor {
    /// Signals `slot`'s process as `fault` says, remembering paused slots so that a later
    /// resume (or stop) continues them. Killing or pausing a slot without a process is an
    /// error; resuming one is not (there is nothing paused to continue).
    pub fn inflict(&self, slot: &str, fault: ProcessFault) -> Result<FaultOutcome, FaultError> {
        let slots = lock(&self.inner.slots);
        let status = slots
            .iter()
            .find(|s| lock(&s.status).slot == slot)
            .map(|s| s.status.clone())
            .ok_or_else(|| FaultError::UnknownSlot(slot.to_owned()))?;
        drop(slots);
        // Held while signalling, so that the slot's task cannot record a new process meanwhile.
        let mut status = lock(&status);
        let running = status.pid.filter(|_| status.state == SlotState::Running);
        let Some(pid) = running else {
            if fault == ProcessFault::Resume {
                return Ok(FaultOutcome {
                    slot: slot.to_owned(),
                    pid: None,
                    changed: false,
                });
            }
            return Err(FaultError::NotRunning {
                slot: slot.to_owned(),
                fault: fault.name(),
                state: status.state.name(),
            });
        };
        let changed = match fault {
            ProcessFault::Kill => {
                signal_group(pid, rustix::process::Signal::KILL);
                true
            }
            ProcessFault::Pause => {
                signal_group(pid, rustix::process::Signal::STOP);
                !std::mem::replace(&mut status.paused, true)
            }
            ProcessFault::Resume => {
                // Also continues a process stopped by someone else: resuming is always safe.
                signal_group(pid, rustix::process::Signal::CONT);
                std::mem::replace(&mut status.paused, false)
            }
        };
        Ok(FaultOutcome {
            slot: slot.to_owned(),
            pid: Some(pid),
            changed,
        })
    }

    /// The slots whose process is paused on purpose, in start order.
    pub fn paused(&self) -> Vec<String> {
        self.snapshot()
            .into_iter()
            .filter(|s| s.paused)
            .map(|s| s.slot)
            .collect()
    }
}

/// A short random suffix that makes every start's instance id unique.
fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..6].to_owned()
}

/// Sends `signal` to the process group led by `pid` (every child leads its own).
pub fn signal_group(pid: u32, signal: rustix::process::Signal) {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    // ESRCH (already gone) is the outcome we want anyway.
    let _ = rustix::process::kill_process_group(pid, signal);
}

/// SIGTERM to the process group, SIGKILL after `grace` or as soon as a kill is asked for;
/// returns how the process ended. A paused process is continued first: stopped, it would never
/// handle the SIGTERM and only the SIGKILL would end it.
async fn terminate(
    child: &mut Child,
    pid: u32,
    paused: bool,
    grace: Duration,
    stop: &mut watch::Receiver<Option<Duration>>,
) -> std::io::Result<ExitStatus> {
    if paused {
        signal_group(pid, rustix::process::Signal::CONT);
    }
    if !grace.is_zero() {
        signal_group(pid, rustix::process::Signal::TERM);
        tokio::select! {
            status = child.wait() => return status,
            _ = tokio::time::sleep(grace) => {}
            _ = stop.wait_for(|g| *g == Some(Duration::ZERO)) => {}
        }
    }
    signal_group(pid, rustix::process::Signal::KILL);
    child.kill().await?;
    child.wait().await
}

/// Sleeps `delay` unless asked to stop first; true when asked to stop.
async fn sleep_or_stop(delay: Duration, stop: &mut watch::Receiver<Option<Duration>>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => false,
        _ = stop.wait_for(Option::is_some) => true,
    }
}

fn forward<R: AsyncRead + Unpin + Send + 'static>(
    reader: R,
    slot: String,
    stream: Stream,
    sink: LineSink,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut reader = BufReader::new(reader);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    sink(&slot, stream, text.trim_end_matches(['\n', '\r']));
                }
            }
        }
    })
}

async fn run_slot(
    spec: ProcessSpec,
    inner: Arc<Inner>,
    status: Arc<Mutex<SlotStatus>>,
    stop: watch::Receiver<Option<Duration>>,
    _done: DoneGuard,
) {
    let mut slot = SlotRun {
        spec,
        inner,
        status,
        stop,
        failures: 0,
        restarts: 0,
    };
    while slot.stop.borrow().is_none() {
        let instance_id = format!("{}-{}", slot.spec.slot, short_id());
        match slot.spawn(&instance_id) {
            Err(error) => {
                let delay = slot.spawn_failed(error);
                if sleep_or_stop(delay, &mut slot.stop).await {
                    break;
                }
            }
            Ok((child, pid)) => {
                let Some(delay) = slot.watch(child, pid, instance_id).await else {
                    break;
                };
                if sleep_or_stop(delay, &mut slot.stop).await {
                    break;
                }
                slot.restarts += 1;
            }
        }
    }
    slot.update(|s| {
        s.state = SlotState::Stopped;
        s.pid = None;
    });
}

/// One slot's life, step by step: start a process, watch it, report its exit, back off, again.
struct SlotRun {
    spec: ProcessSpec,
    inner: Arc<Inner>,
    status: Arc<Mutex<SlotStatus>>,
    stop: watch::Receiver<Option<Duration>>,
    /// Failures in a row (spawn failures and quick exits), for the backoff.
    failures: u32,
    /// Processes started after the first.
    restarts: u32,
}

impl SlotRun {
    fn update(&self, change: impl FnOnce(&mut SlotStatus)) {
        change(&mut lock(&self.status));
    }

    /// Starts the slot's program as `instance_id`, leading its own process group.
    fn spawn(&self, instance_id: &str) -> std::io::Result<(Child, u32)> {
        let spec = &self.spec;
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            // If brigade panics, its children still go (SIGKILL) when their handles drop.
            .kill_on_drop(true);
        if let Some(name) = &spec.instance_id_env {
            command.env(name, instance_id);
        }
        command.spawn().and_then(|child| match child.id() {
            Some(pid) => Ok((child, pid)),
            None => Err(std::io::Error::other(
                "the process exited before its pid was known",
            )),
        })
    }

    /// Records and reports a failed start; returns how long to wait before the next try.
    fn spawn_failed(&mut self, error: std::io::Error) -> Duration {
        self.failures += 1;
        let delay = self.inner.backoff.delay(self.failures);
        let error = format!("cannot start {}: {error}", self.spec.program.display());
        self.update(|s| {
            s.state = SlotState::BackingOff {
                restart_at_ms: brigade_chassis::time::unix_ms() + delay.as_millis() as u64,
            };
            s.last_exit = Some(error.clone());
            s.pid = None;
        });
        (self.inner.observer)(&Event::SpawnFailed {
            slot: self.spec.slot.clone(),
            group: self.spec.group.clone(),
            error,
            restart_in: Some(delay),
        });
        delay
    }

    /// Runs a started process until it exits or the slot is stopped, and reports both; returns
    /// how long to wait before the next start, or `None` when the slot is stopping.
    async fn watch(&mut self, mut child: Child, pid: u32, instance_id: String) -> Option<Duration> {
        let started = Instant::now();
        let outputs = [
            child.stdout.take().map(|r| self.forward(r, Stream::Stdout)),
            child.stderr.take().map(|r| self.forward(r, Stream::Stderr)),
        ];
        self.started(&instance_id, pid);
        let (exit, stopping) = self.wait_exit_or_stop(&mut child, pid).await;
        let ran_for = started.elapsed();
        // Let the last lines (often the reason for a crash) through before reporting the exit;
        // bounded, because a grandchild may hold the pipes open.
        for output in outputs.into_iter().flatten() {
            let _ = tokio::time::timeout(Duration::from_millis(200), output).await;
        }
        let how = match exit {
            Ok(status) => status.to_string(),
            Err(error) => format!("lost track of the process: {error}"),
        };
        let stopping = stopping || self.stop.borrow().is_some();
        let restart_in = (!stopping).then(|| self.backoff_after(ran_for));
        self.exited(instance_id, pid, how, ran_for, restart_in);
        restart_in
    }

    fn forward<R: AsyncRead + Unpin + Send + 'static>(
        &self,
        reader: R,
        stream: Stream,
    ) -> JoinHandle<()> {
        forward(
            reader,
            self.spec.slot.clone(),
            stream,
            self.inner.sink.clone(),
        )
    }

    fn started(&self, instance_id: &str, pid: u32) {
        self.update(|s| {
            s.state = SlotState::Running;
            s.instance_id = Some(instance_id.to_owned());
            s.pid = Some(pid);
            s.started_at_ms = Some(brigade_chassis::time::unix_ms());
            s.restarts = self.restarts;
        });
        (self.inner.observer)(&Event::Started {
            slot: self.spec.slot.clone(),
            group: self.spec.group.clone(),
            instance_id: instance_id.to_owned(),
            pid,
            restarts: self.restarts,
        });
    }

    /// Waits for the process to exit, or terminates it when the slot is stopped; true in the
    /// second case.
    async fn wait_exit_or_stop(
        &mut self,
        child: &mut Child,
        pid: u32,
    ) -> (std::io::Result<ExitStatus>, bool) {
        let outcome = tokio::select! {
            exit = child.wait() => Ok(exit),
            grace = self.stop.wait_for(Option::is_some) => Err(grace.map(|g| g.unwrap_or_default()).unwrap_or_default()),
        };
        match outcome {
            Ok(exit) => (exit, false),
            Err(grace) => {
                let paused = {
                    let mut status = lock(&self.status);
                    status.state = SlotState::Stopping;
                    std::mem::take(&mut status.paused)
                };
                (
                    terminate(child, pid, paused, grace, &mut self.stop).await,
                    true,
                )
            }
        }
    }

    /// The delay before the next start after a process ran for `ran_for`: a process that ran
    /// long enough starts the backoff over.
    fn backoff_after(&mut self, ran_for: Duration) -> Duration {
        self.failures = if ran_for >= self.inner.backoff.reset_after {
            1
        } else {
            self.failures + 1
        };
        self.inner.backoff.delay(self.failures)
    }

    fn exited(
        &self,
        instance_id: String,
        pid: u32,
        how: String,
        ran_for: Duration,
        restart_in: Option<Duration>,
    ) {
        self.update(|s| {
            s.pid = None;
            s.paused = false;
            s.last_exit = Some(how.clone());
            s.state = match restart_in {
                Some(delay) => SlotState::BackingOff {
                    restart_at_ms: brigade_chassis::time::unix_ms() + delay.as_millis() as u64,
                },
                None => SlotState::Stopped,
            };
        });
        (self.inner.observer)(&Event::Exited {
            slot: self.spec.slot.clone(),
            group: self.spec.group.clone(),
            instance_id,
            pid,
            status: how,
            ran_for,
            restart_in,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_maximum() {
        let backoff = Backoff::default();
        let delays: Vec<u128> = (1..=9).map(|n| backoff.delay(n).as_millis()).collect();
        assert_eq!(
            delays,
            [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]
        );
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(10));
    }

    pub(crate) type Events = Arc<Mutex<Vec<(Instant, Event)>>>;
    pub(crate) type Lines = Arc<Mutex<Vec<(String, Stream, String)>>>;

    pub(crate) fn supervisor(backoff: Backoff) -> (Supervisor, Events, Lines) {
        let events: Events = Arc::default();
        let lines: Lines = Arc::default();
        let (e, l) = (events.clone(), lines.clone());
        let supervisor = Supervisor::new(
            backoff,
            Arc::new(move |event: &Event| e.lock().unwrap().push((Instant::now(), event.clone()))),
            Arc::new(move |slot: &str, stream, line: &str| {
                l.lock()
                    .unwrap()
                    .push((slot.to_owned(), stream, line.to_owned()))
            }),
        );
        (supervisor, events, lines)
    }

    pub(crate) fn sh(slot: &str, script: &str) -> ProcessSpec {
        ProcessSpec {
            slot: slot.into(),
            group: "test".into(),
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![("GREETING".into(), "hello".into())],
            instance_id_env: Some("INSTANCE".into()),
        }
    }

    /// How many of the events so far are `wanted`.
    fn count(events: &Events, wanted: impl Fn(&Event) -> bool) -> usize {
        let events = events.lock().unwrap();
        events.iter().filter(|(_, e)| wanted(e)).count()
    }

    pub(crate) async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn a_process_that_exits_is_restarted_with_growing_delays() {
        let backoff = Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(200),
            reset_after: Duration::from_secs(30),
        };
        let (supervisor, events, lines) = supervisor(backoff);
        supervisor.start(sh("crashy-1", "echo \"$GREETING from $INSTANCE\"; exit 3"));
        wait_until("five starts", || {
            count(&events, |e| matches!(e, Event::Started { .. })) >= 5
        })
        .await;
        supervisor.stop_all(Duration::from_secs(1)).await;

        let events = events.lock().unwrap().clone();
        let mut exits = Vec::new();
        let mut ids = Vec::new();
        let mut last_exit_at = None;
        for (at, event) in &events {
            match event {
                Event::Started {
                    instance_id,
                    restarts,
                    ..
                } => {
                    assert_eq!(*restarts as usize, ids.len());
                    ids.push(instance_id.clone());
                    if let Some((exit_at, delay)) = last_exit_at.take() {
                        let gap: Duration = *at - exit_at;
                        assert!(
                            gap >= delay,
                            "restarted after {gap:?}, before its backoff of {delay:?}"
                        );
                    }
                }
                Event::Exited {
                    status, restart_in, ..
                } => {
                    // Only the exits it restarts from are the script's own: stop_all may end
                    // the last process (SIGTERM) before its script does.
                    if let Some(delay) = restart_in {
                        assert_eq!(status, "exit status: 3");
                        exits.push(*delay);
                        last_exit_at = Some((*at, *delay));
                    }
                }
                Event::SpawnFailed { error, .. } => panic!("spawn failed: {error}"),
            }
        }
        let ms: Vec<u128> = exits.iter().take(4).map(Duration::as_millis).collect();
        assert_eq!(ms, [50, 100, 200, 200]);
        // Every start is a new instance, and the child got its id and the spec's environment.
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        assert!(ids.iter().all(|id| id.starts_with("crashy-1-")));
        let lines = lines.lock().unwrap();
        assert_eq!(
            lines[0],
            (
                "crashy-1".into(),
                Stream::Stdout,
                format!("hello from {}", ids[0])
            )
        );

        let status = &supervisor.snapshot()[0];
        assert_eq!(status.state, SlotState::Stopped);
        assert!(status.restarts >= 4, "{status:?}");
        // The script's `exit 3`, or the stop's SIGTERM if that came first.
        let last_exit = events.iter().rev().find_map(|(_, e)| match e {
            Event::Exited { status, .. } => Some(status.as_str()),
            _ => None,
        });
        assert_eq!(status.last_exit.as_deref(), last_exit);
    }

    #[tokio::test]
    async fn stopping_sends_sigterm_then_sigkill_after_the_grace_period() {
        let (supervisor, events, lines) = supervisor(Backoff::default());
        // One process leaves on SIGTERM; the other ignores it and must be killed.
        supervisor.start(sh(
            "polite-1",
            "trap 'exit 0' TERM; echo ready; while true; do sleep 0.05; done",
        ));
        supervisor.start(sh(
            "stubborn-1",
            "trap '' TERM; echo ready; while true; do sleep 0.05; done",
        ));
        // Running is not enough: a SIGTERM before its `trap` would end the stubborn one at once.
        wait_until("both trapping SIGTERM", || {
            let lines = lines.lock().unwrap();
            lines.iter().filter(|(_, _, line)| line == "ready").count() == 2
        })
        .await;
        let pids: Vec<u32> = supervisor.snapshot().iter().filter_map(|s| s.pid).collect();

        let started = Instant::now();
        supervisor
            .stop_group("test", Duration::from_millis(300))
            .await;
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(300), "stopped after {took:?}");
        assert!(took < Duration::from_secs(2), "stopping took {took:?}");

        let exits: Vec<(String, String, Option<Duration>)> = events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Exited {
                    slot,
                    status,
                    restart_in,
                    ..
                } => Some((slot.clone(), status.clone(), *restart_in)),
                _ => None,
            })
            .collect();
        assert!(
            exits.contains(&("polite-1".into(), "exit status: 0".into(), None)),
            "{exits:?}"
        );
        assert!(
            exits.contains(&("stubborn-1".into(), "signal: 9 (SIGKILL)".into(), None)),
            "{exits:?}"
        );
        for pid in pids {
            assert!(
                !std::path::Path::new(&format!("/proc/{pid}")).exists(),
                "{pid} still exists"
            );
        }
        assert!(supervisor
            .snapshot()
            .iter()
            .all(|s| s.state == SlotState::Stopped));
    }

    /// The process state letter from /proc (`T` is stopped).
    fn proc_state(pid: u32) -> char {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.rsplit(") ")
            .next()
            .and_then(|r| r.chars().next())
            .unwrap_or('?')
    }

    #[tokio::test]
    async fn paused_processes_are_remembered_resumed_and_still_stop() {
        let (supervisor, events, _lines) = supervisor(Backoff {
            initial: Duration::from_millis(10),
            ..Backoff::default()
        });
        supervisor.start(sh(
            "sleepy-1",
            "trap 'exit 0' TERM; while true; do sleep 0.05; done",
        ));
        wait_until("running", || supervisor.snapshot()[0].pid.is_some()).await;
        let pid = supervisor.snapshot()[0].pid.unwrap();

        let paused = supervisor.inflict("sleepy-1", ProcessFault::Pause).unwrap();
        assert_eq!((paused.pid, paused.changed), (Some(pid), true));
        wait_until("stopped", || proc_state(pid) == 'T').await;
        assert_eq!(supervisor.paused(), ["sleepy-1"]);
        assert!(
            !supervisor
                .inflict("sleepy-1", ProcessFault::Pause)
                .unwrap()
                .changed
        );

        let resumed = supervisor
            .inflict("sleepy-1", ProcessFault::Resume)
            .unwrap();
        assert!(resumed.changed);
        wait_until("continued", || proc_state(pid) != 'T').await;
        assert!(supervisor.paused().is_empty());

        // A kill is a crash: the slot restarts with a new process.
        supervisor.inflict("sleepy-1", ProcessFault::Kill).unwrap();
        wait_until("restarted", || {
            supervisor.snapshot()[0].pid.is_some_and(|p| p != pid)
        })
        .await;
        assert!(events.lock().unwrap().iter().any(|(_, e)| matches!(
            e,
            Event::Exited { status, restart_in: Some(_), .. } if status.contains("SIGKILL")
        )));

        // Stopping continues a paused process, which then leaves on SIGTERM, not SIGKILL.
        supervisor.inflict("sleepy-1", ProcessFault::Pause).unwrap();
        supervisor.stop_all(Duration::from_secs(5)).await;
        assert_eq!(
            supervisor.snapshot()[0].last_exit.as_deref(),
            Some("exit status: 0")
        );
        assert!(supervisor.paused().is_empty());

        assert_eq!(
            supervisor.inflict("sleepy-1", ProcessFault::Kill),
            Err(FaultError::NotRunning {
                slot: "sleepy-1".into(),
                fault: "kill",
                state: "stopped"
            })
        );
        assert!(
            !supervisor
                .inflict("sleepy-1", ProcessFault::Resume)
                .unwrap()
                .changed
        );
        assert_eq!(
            supervisor.inflict("nope-1", ProcessFault::Pause),
            Err(FaultError::UnknownSlot("nope-1".into()))
        );
    }

    #[tokio::test]
    async fn a_program_that_cannot_start_is_retried() {
        let (supervisor, events, _lines) = supervisor(Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(10),
            reset_after: Duration::from_secs(30),
        });
        supervisor.start(ProcessSpec {
            program: "/nonexistent/brigade-test-program".into(),
            ..sh("missing-1", "")
        });
        wait_until("two failed starts", || {
            count(&events, |e| matches!(e, Event::SpawnFailed { .. })) >= 2
        })
        .await;
        supervisor.stop_all(Duration::from_millis(100)).await;
        let last_exit = supervisor.snapshot()[0].last_exit.clone().unwrap();
        assert!(
            last_exit.contains("cannot start /nonexistent/brigade-test-program"),
            "{last_exit}"
        );
    }
}
