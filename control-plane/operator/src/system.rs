//! The system as the console and `brigade status` show it: every service with its instances,
//! joining what the supervisor knows (slot, pid, restarts) with what the registry knows
//! (address, version) and what each instance says about itself (`/readyz`).
//!
//! `GET /v1/system` answers a [`SystemView`].

use std::collections::HashMap;
use std::time::Duration;

use brigade_chassis::client::plain::PlainClient;
use brigade_chassis::discovery::api::InstanceRecord;
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};

use brigade_registry::Registry;
use brigade_supervisor::{SlotState, SlotStatus, Supervisor};

/// How long an instance may take to answer `/readyz` before it counts as unreachable.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// Everything `GET /v1/system` tells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemView {
    pub control_url: String,
    /// The gateway's address once it has registered.
    pub gateway_url: Option<String>,
    /// The control plane's version.
    pub version: String,
    /// When the control plane started, Unix milliseconds.
    pub started_at_ms: u64,
    /// When this view was taken, Unix milliseconds.
    pub now_ms: u64,
    /// In manifest order; services only the registry knows of come after, by name.
    pub services: Vec<ServiceView>,
}

impl SystemView {
    /// Every instance (or slot) of `service`.
    pub fn instances_of<'a>(&'a self, service: &'a str) -> impl Iterator<Item = &'a InstanceView> {
        self.services
            .iter()
            .filter(move |s| s.name == service)
            .flat_map(|s| s.instances.iter())
    }
}

/// One service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    pub name: String,
    /// How many instances the manifest asks for; `None` for a service `brigade up` did not start.
    pub desired: Option<u32>,
    pub instances: Vec<InstanceView>,
}

/// One instance, or one supervised slot that has no live instance right now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceView {
    /// The supervisor's slot, e.g. `catalog-1`; `None` for an instance registered from elsewhere.
    pub slot: Option<String>,
    pub instance_id: Option<String>,
    /// `starting`, `running`, `paused` (`brigade chaos pause`), `backing_off`, `stopping`,
    /// `stopped`, or `external`.
    pub state: String,
    /// When a backing-off slot restarts, Unix milliseconds.
    pub restart_at_ms: Option<u64>,
    /// Whether the registry lists it.
    pub registered: bool,
    pub address: Option<String>,
    pub health: Health,
    /// Why it is not ready, as `/readyz` says.
    pub health_detail: Option<String>,
    pub version: Option<String>,
    pub pid: Option<u32>,
    pub started_at_ms: Option<u64>,
    pub uptime_ms: Option<u64>,
    pub restarts: u32,
    pub last_exit: Option<String>,
    /// Resident memory (VmRSS), when the process runs on this machine.
    pub rss_bytes: Option<u64>,
}

/// What an instance's `/readyz` said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Ready,
    NotReady,
    Unreachable,
    /// No address to ask yet.
    Unknown,
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Health::Ready => "ready",
            Health::NotReady => "not ready",
            Health::Unreachable => "unreachable",
            Health::Unknown => "unknown",
        })
    }
}

/// Asks `http://ADDRESS/readyz`; returns the verdict and, when not ready, why.
pub async fn probe(client: &PlainClient, address: &str) -> (Health, Option<String>) {
    match client
        .send(http::Method::GET, &format!("http://{address}/readyz"), None)
        .await
    {
        Ok(answer) if answer.status.is_success() => (Health::Ready, None),
        Ok(answer) => {
            let detail = serde_json::from_slice::<serde_json::Value>(&answer.body)
                .ok()
                .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_owned))
                .unwrap_or_else(|| format!("/readyz answered {}", answer.status));
            (Health::NotReady, Some(detail))
        }
        Err(error) => (Health::Unreachable, Some(error.to_string())),
    }
}

/// Resident memory of a local process, from `/proc/PID/status` (Linux only; `None` elsewhere).
pub fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// What the view is built from.
#[derive(Debug, Clone)]
pub struct Sources {
    pub registry: Registry,
    pub supervisor: Option<Supervisor>,
    /// `(service, desired instances)` in manifest order, as the system started; the
    /// supervisor's count wins once `brigade scale` has changed it.
    pub desired: Vec<(String, u32)>,
    pub control_url: String,
    pub started_at_ms: u64,
    /// How long an instance being removed (`brigade scale`, `brigade restart`) has between
    /// SIGTERM and SIGKILL.
    pub stop_grace: Duration,
    /// The recent spans the instances exported to the control port.
    pub traces: crate::traces::TraceStore,
    /// The recent lines every instance wrote.
    pub logs: crate::logs::LogStore,
    /// The recent metric points posted over OTLP.
    pub metrics: crate::otlp_metrics::MetricStore,
    /// The last minutes of every service's figures, scraped from its instances.
    pub console: crate::console_data::Series,
    /// Who may change the system: the holders of the operator credential.
    pub operator: crate::operator_auth::Gate,
    /// The operator's identity, which the control plane presents to an instance when it acts
    /// for an operator (a parked event's replay); `None` where it mints none.
    pub acting_operator: Option<brigade_chassis::identity::Identity>,
}

/// A slot's state for people: `paused` when its process was stopped on purpose (SIGSTOP).
fn slot_state_name(slot: &SlotStatus) -> &'static str {
    if slot.paused {
        "paused"
    } else {
        slot.state.name()
    }
}

fn view_of(
    slot: Option<&SlotStatus>,
    record: Option<&InstanceRecord>,
    now_ms: u64,
) -> InstanceView {
    let registration = record.map(|r| &r.registration);
    let pid = slot
        .and_then(|s| s.pid)
        .or_else(|| registration.and_then(|r| r.pid));
    let started_at_ms = registration
        .map(|r| r.started_at_ms)
        .or_else(|| slot.and_then(|s| s.started_at_ms));
    InstanceView {
        slot: slot.map(|s| s.slot.clone()),
        instance_id: registration
            .map(|r| r.instance_id.clone())
            .or_else(|| slot.and_then(|s| s.instance_id.clone())),
        state: slot.map_or("external", slot_state_name).to_owned(),
        restart_at_ms: match slot.map(|s| s.state) {
            Some(SlotState::BackingOff { restart_at_ms }) => Some(restart_at_ms),
            _ => None,
        },
        registered: record.is_some(),
        address: registration.map(|r| r.address.clone()),
        health: Health::Unknown,
        health_detail: None,
        version: registration.map(|r| r.version.clone()),
        pid,
        started_at_ms,
        uptime_ms: started_at_ms.map(|s| now_ms.saturating_sub(s)),
        restarts: slot.map_or(0, |s| s.restarts),
        last_exit: slot.and_then(|s| s.last_exit.clone()),
        rss_bytes: pid.and_then(resident_bytes),
    }
}

/// Joins supervisor and registry into services and instances (health not asked yet).
pub fn collect(sources: &Sources) -> SystemView {
    let now_ms = brigade_chassis::time::unix_ms();
    let catalogue = sources.registry.catalogue();
    let mut by_id: HashMap<&str, &InstanceRecord> = HashMap::new();
    for records in catalogue.services.values() {
        for record in records {
            by_id.insert(record.registration.instance_id.as_str(), record);
        }
    }
    let slots = sources
        .supervisor
        .as_ref()
        .map(Supervisor::snapshot)
        .unwrap_or_default();

    let mut names: Vec<(String, Option<u32>)> = sources
        .desired
        .iter()
        .map(|(name, desired)| {
            let now = sources.supervisor.as_ref().and_then(|s| s.desired(name));
            (name.clone(), Some(now.unwrap_or(*desired)))
        })
        .collect();
    for name in catalogue.services.keys() {
        if !names.iter().any(|(n, _)| n == name) {
            names.push((name.clone(), None));
        }
    }
    let mut shown: Vec<&str> = Vec::new();
    let mut services = Vec::new();
    for (name, desired) in names {
        let mut instances = Vec::new();
        for slot in slots.iter().filter(|s| s.group == name) {
            // A stopped process's instance id lingers in its slot; only a live process has a record.
            let record = slot
                .instance_id
                .as_deref()
                .filter(|_| slot.pid.is_some())
                .and_then(|id| by_id.get(id).copied());
            if let Some(record) = record {
                shown.push(record.registration.instance_id.as_str());
            }
            instances.push(view_of(Some(slot), record, now_ms));
        }
        for record in catalogue.services.get(&name).into_iter().flatten() {
            if !shown.contains(&record.registration.instance_id.as_str()) {
                instances.push(view_of(None, Some(record), now_ms));
            }
        }
        services.push(ServiceView {
            name,
            desired,
            instances,
        });
    }
    let gateway_url = catalogue
        .services
        .get("gateway")
        .and_then(|g| g.first())
        .map(|r| format!("http://{}", r.registration.address));
    SystemView {
        control_url: sources.control_url.clone(),
        gateway_url,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at_ms: sources.started_at_ms,
        now_ms,
        services,
    }
}

/// Asks every instance with an address for its readiness, all at once.
pub async fn probe_all(view: &mut SystemView, client: &PlainClient) {
    let mut targets: Vec<&mut InstanceView> = view
        .services
        .iter_mut()
        .flat_map(|s| s.instances.iter_mut())
        .filter(|i| i.address.is_some())
        .collect();
    let verdicts = join_all(
        targets
            .iter()
            .map(|i| probe(client, i.address.as_deref().unwrap_or_default())),
    )
    .await;
    for (instance, (health, detail)) in targets.iter_mut().zip(verdicts) {
        instance.health = health;
        instance.health_detail = detail;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_of_this_process_is_known() {
        let rss = resident_bytes(std::process::id()).unwrap();
        assert!(rss > 1024 * 1024, "{rss}");
    }

    #[test]
    fn health_reads_as_words() {
        assert_eq!(Health::NotReady.to_string(), "not ready");
        assert_eq!(
            serde_json::to_string(&Health::NotReady).unwrap(),
            "\"not_ready\""
        );
    }
}
