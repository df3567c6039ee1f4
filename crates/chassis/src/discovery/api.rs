//! The registry's wire contract, shared by the registry server (in the control plane) and the
//! chassis's registry client.
//!
//! Endpoints (all JSON, errors as problem+json):
//! - `PUT    /v1/registry/instances/{instance_id}` with a [`Registration`]: register or re-register
//!   (idempotent). Answers the stored [`InstanceRecord`].
//! - `PUT    /v1/registry/instances/{instance_id}/heartbeat`: renews the lease. 404 when the
//!   registry does not know the instance (it expired, or the registry restarted): the instance
//!   then registers again.
//! - `DELETE /v1/registry/instances/{instance_id}`: deregister (204, also when unknown).
//! - `GET    /v1/registry/services`: every service with its instances, a [`Catalogue`].
//! - `GET    /v1/registry/services/{service}?index=N&wait_ms=M`: a blocking query. Answers at once
//!   when the service's index differs from `N` (or `N` is absent), otherwise waits up to `M`
//!   milliseconds (at most [`MAX_WAIT_MS`]) for a change, then answers the current
//!   [`ServiceInstances`] either way.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The longest a blocking query may wait before the registry answers anyway.
pub const MAX_WAIT_MS: u64 = 60_000;

/// What an instance tells the registry about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// The logical service name, e.g. `catalog`.
    pub service: String,
    /// Unique per process, e.g. `catalog-3f2a9c1d`.
    pub instance_id: String,
    /// `host:port` where the instance serves HTTP.
    pub address: String,
    /// The Unix socket the instance also serves on, for callers on its machine when `address`
    /// is on loopback ([`crate::local_socket`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_socket: Option<String>,
    /// The build's version.
    pub version: String,
    /// The OS process id, when the instance runs on the registry's machine.
    #[serde(default)]
    pub pid: Option<u32>,
    /// When the process started, Unix milliseconds.
    pub started_at_ms: u64,
    /// How long the registration lives without a heartbeat.
    pub ttl_ms: u64,
    /// Free-form facts (e.g. the store backend).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// A registration as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRecord {
    #[serde(flatten)]
    pub registration: Registration,
    /// When the registry first saw this instance, Unix milliseconds.
    pub registered_at_ms: u64,
    /// The last heartbeat (or registration), Unix milliseconds.
    pub last_heartbeat_ms: u64,
}

/// One service's live instances at a point in the registry's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInstances {
    pub service: String,
    /// Changes whenever this service's instance set changes; pass it back to block for the next change.
    pub index: u64,
    pub instances: Vec<InstanceRecord>,
}

/// Every service the registry knows of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalogue {
    pub services: BTreeMap<String, Vec<InstanceRecord>>,
}
