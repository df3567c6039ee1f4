//! Live scaling and rolling restarts of a running `brigade up` system. The control plane owns
//! the processes, so it does both; served on the control port:
//!
//! - `POST /v1/system/services/{service}/scale` with `{"instances": N}` (0 to
//!   [`MAX_INSTANCES`]): new instances start and the answer waits until they are ready; removed
//!   ones get SIGTERM, on which the chassis makes them not ready, deregisters them (callers
//!   watching the registry stop choosing them at once), pauses, stops accepting, drains and
//!   exits ([`rollout`]); the answer waits until they have exited.
//! - `POST /v1/system/services/{service}/restart`: one instance at a time, a new one started
//!   beside it (from the program on disk now: that is how a new build is rolled out), and the
//!   old one removed only once the new one is ready.
//!
//! `brigade scale SERVICE N` and `brigade restart SERVICE|--all` ([`cli`]) call them. One change
//! at a time: a second while one is under way is refused (`change-in-progress`).

pub mod cli;
mod rollout;
mod routes;

use serde::{Deserialize, Serialize};

pub use brigade_supervisor::MAX_INSTANCES;
pub use routes::router;

/// The problem code of a scale or restart refused because another is under way.
pub const CHANGE_IN_PROGRESS: &str = "change-in-progress";
/// The problem code of a new instance that did not become ready in time.
pub const INSTANCE_NOT_READY: &str = "instance-not-ready";

/// The body of `POST /v1/system/services/{service}/scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleRequest {
    pub instances: u32,
}

/// A new instance, ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Started {
    pub slot: String,
    pub instance_id: String,
    pub address: String,
    /// From its start to its first ready answer.
    pub ready_after_ms: u64,
}

/// What a scale did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleReport {
    pub service: String,
    /// Instances before and after.
    pub from: u32,
    pub to: u32,
    pub added: Vec<Started>,
    /// The slots stopped, each drained and exited.
    pub removed: Vec<String>,
}

/// One instance of a rolling restart: the old one and its replacement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replaced {
    pub old_slot: String,
    /// The old process's instance id, when it had one running.
    pub old_instance_id: Option<String>,
    pub new: Started,
}

/// What a rolling restart of one service did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartReport {
    pub service: String,
    pub replaced: Vec<Replaced>,
}
