//! The registry: which instances of which services are alive, and where.
//!
//! In memory, because it lives and dies with `brigade up` and every instance registers again
//! when it finds itself forgotten. Each registration is a lease: it expires `ttl_ms` after the
//! last heartbeat, so an instance that hangs or vanishes without deregistering drops out.
//!
//! Every change to a service's instance set gives that service a new index, taken from one
//! counter for the whole registry, so an index never repeats for a service even when it empties
//! and fills again. A blocking query names the index it has seen and is answered as soon as that
//! service's index moves on (see [`Registry::wait_for_change`]); that is how clients learn of a
//! new or departed instance within milliseconds without polling.
//!
//! The wire contract is `brigade_chassis::discovery::api`; [`router`] serves it.

mod routes;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use brigade_chassis::discovery::api::{Catalogue, InstanceRecord, Registration, ServiceInstances};
use brigade_chassis::Problem;
use http::StatusCode;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

pub use routes::{router, WaitQuery};

/// The shortest lease accepted: shorter would mean a heartbeat every few hundred milliseconds.
pub const MIN_TTL: Duration = Duration::from_secs(1);
/// The longest lease accepted: longer would keep a dead instance listed for too long.
pub const MAX_TTL: Duration = Duration::from_secs(300);
/// The most instances held at once, so that a runaway client cannot exhaust memory.
pub const MAX_INSTANCES: usize = 10_000;
/// The largest registration body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Service names as the registry accepts them: `[a-z0-9-]{1,63}`, a DNS label in lower case.
/// Checked by form, not against a list, so that the registry knows no service: any service that
/// follows the rule can register without the control plane being rebuilt.
pub fn is_valid_service_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// What is wrong with `name` when [`is_valid_service_name`] refuses it, for people.
pub fn service_name_rule(name: &str) -> String {
    format!("service name `{name}` must be 1 to 63 characters of a-z, 0-9 and -")
}

const MAX_ID_LEN: usize = 128;
const MAX_VERSION_LEN: usize = 64;
const MAX_METADATA_ENTRIES: usize = 32;
const MAX_METADATA_LEN: usize = 256;

/// Why the registry refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("{detail}")]
    Invalid {
        parameter: &'static str,
        detail: String,
    },
    #[error("instance {0} is not registered (its lease expired, or the registry restarted): register again")]
    UnknownInstance(String),
    #[error("the registry holds {MAX_INSTANCES} instances, its limit")]
    Full,
}

impl From<RegistryError> for Problem {
    fn from(error: RegistryError) -> Problem {
        match &error {
            RegistryError::Invalid { parameter, .. } => {
                Problem::invalid_parameter(parameter, error.to_string())
            }
            RegistryError::UnknownInstance(_) => Problem::not_found(error.to_string()),
            RegistryError::Full => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "registry-full",
                "Registry full",
                error.to_string(),
            ),
        }
    }
}

struct Lease {
    record: InstanceRecord,
    expires_at: Instant,
}

#[derive(Default)]
struct State {
    /// Every live instance by id.
    instances: HashMap<String, Lease>,
    /// Each service's current index; kept when the service empties, so its index keeps moving on.
    indexes: BTreeMap<String, u64>,
    /// The registry-wide change counter that indexes are taken from.
    revision: u64,
}

struct Inner {
    state: Mutex<State>,
    /// Carries `revision`: every blocking query waits on it and then checks its own service.
    changes: watch::Sender<u64>,
    /// Wakes the sweeper when a lease may now expire before the one it sleeps for.
    sweeper: Arc<Notify>,
    /// Set when the registry is closing: blocking queries answer at once.
    closing: watch::Sender<bool>,
}

/// The registry; cheap to clone, all clones share one state.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("instances", &self.lock().instances.len())
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Registry {
    /// An empty registry. Inside a tokio runtime it also starts the sweeper that expires leases;
    /// outside one, call [`Registry::sweep`] yourself.
    pub fn new() -> Registry {
        let registry = Registry {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                changes: watch::channel(0).0,
                sweeper: Arc::new(Notify::new()),
                closing: watch::channel(false).0,
            }),
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(sweep_forever(
                Arc::downgrade(&registry.inner),
                registry.inner.sweeper.clone(),
            ));
        }
        registry
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that matters
        // more than stopping the whole control plane would.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers `registration` under `instance_id`, or updates it (idempotent).
    pub fn register(
        &self,
        instance_id: &str,
        registration: Registration,
    ) -> Result<InstanceRecord, RegistryError> {
        validate(instance_id, &registration)?;
        let now_ms = brigade_chassis::time::unix_ms();
        let expires_at = Instant::now() + Duration::from_millis(registration.ttl_ms);
        let mut state = self.lock();
        let previous = state.instances.get(instance_id).map(|l| l.record.clone());
        if previous.is_none() && state.instances.len() >= MAX_INSTANCES {
            return Err(RegistryError::Full);
        }
        let record = InstanceRecord {
            registered_at_ms: previous.as_ref().map_or(now_ms, |p| p.registered_at_ms),
            last_heartbeat_ms: now_ms,
            registration,
        };
        let changed = previous.as_ref().map(|p| &p.registration) != Some(&record.registration);
        if changed {
            if let Some(previous) = &previous {
                if previous.registration.service != record.registration.service {
                    bump(&mut state, &previous.registration.service);
                }
            }
            bump(&mut state, &record.registration.service);
        }
        state.instances.insert(
            instance_id.to_owned(),
            Lease {
                record: record.clone(),
                expires_at,
            },
        );
        let revision = state.revision;
        drop(state);
        if changed {
            self.inner.changes.send_replace(revision);
        }
        // The new lease may end before the one the sweeper sleeps for.
        self.inner.sweeper.notify_one();
        Ok(record)
    }

    /// Renews the lease of `instance_id`.
    pub fn heartbeat(&self, instance_id: &str) -> Result<InstanceRecord, RegistryError> {
        let mut state = self.lock();
        let lease = state
            .instances
            .get_mut(instance_id)
            .ok_or_else(|| RegistryError::UnknownInstance(instance_id.to_owned()))?;
        lease.expires_at = Instant::now() + Duration::from_millis(lease.record.registration.ttl_ms);
        lease.record.last_heartbeat_ms = brigade_chassis::time::unix_ms();
        Ok(lease.record.clone())
    }

    /// Removes `instance_id`; true when it was registered.
    pub fn deregister(&self, instance_id: &str) -> bool {
        let mut state = self.lock();
        let Some(lease) = state.instances.remove(instance_id) else {
            return false;
        };
        bump(&mut state, &lease.record.registration.service);
        let revision = state.revision;
        drop(state);
        self.inner.changes.send_replace(revision);
        true
    }

    /// One instance's record.
    pub fn instance(&self, instance_id: &str) -> Option<InstanceRecord> {
        self.lock()
            .instances
            .get(instance_id)
            .map(|l| l.record.clone())
    }

    /// A service's live instances (none, at index 0, for a service never seen).
    pub fn service(&self, service: &str) -> ServiceInstances {
        let state = self.lock();
        let mut instances: Vec<InstanceRecord> = state
            .instances
            .values()
            .filter(|l| l.record.registration.service == service)
            .map(|l| l.record.clone())
            .collect();
        instances.sort_by(|a, b| a.registration.instance_id.cmp(&b.registration.instance_id));
        ServiceInstances {
            service: service.to_owned(),
            index: state.indexes.get(service).copied().unwrap_or(0),
            instances,
        }
    }

    /// Every service that has instances, with them.
    pub fn catalogue(&self) -> Catalogue {
        let state = self.lock();
        let mut services: BTreeMap<String, Vec<InstanceRecord>> = BTreeMap::new();
        for lease in state.instances.values() {
            services
                .entry(lease.record.registration.service.clone())
                .or_default()
                .push(lease.record.clone());
        }
        for instances in services.values_mut() {
            instances.sort_by(|a, b| a.registration.instance_id.cmp(&b.registration.instance_id));
        }
        Catalogue { services }
    }

    /// A blocking query: answers at once when `service`'s index differs from `seen` (or `seen` is
    /// `None`), else when it changes, at most `wait` later, or when the registry closes.
    pub async fn wait_for_change(
        &self,
        service: &str,
        seen: Option<u64>,
        wait: Duration,
    ) -> ServiceInstances {
        // Subscribe before looking, so that a change between the look and the wait is not missed.
        let mut changes = self.inner.changes.subscribe();
        let mut closing = self.inner.closing.subscribe();
        let deadline = Instant::now() + wait;
        loop {
            let current = self.service(service);
            if Some(current.index) != seen || *closing.borrow_and_update() {
                return current;
            }
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        return current;
                    }
                }
                _ = closing.changed() => {}
                _ = tokio::time::sleep_until(deadline) => return self.service(service),
            }
        }
    }

    /// Removes every lease that has expired by `now`; returns when the next one expires.
    pub fn sweep(&self, now: Instant) -> Option<Instant> {
        sweep_state(&self.inner, now)
    }

    /// Answers every blocking query now and from now on, so that the server can stop without
    /// waiting for long polls to time out.
    pub fn close(&self) {
        self.inner.closing.send_replace(true);
    }
}

/// Gives `service` a new index.
fn bump(state: &mut State, service: &str) {
    state.revision += 1;
    let revision = state.revision;
    state.indexes.insert(service.to_owned(), revision);
}

fn sweep_state(inner: &Inner, now: Instant) -> Option<Instant> {
    let mut state = inner.state.lock().unwrap_or_else(PoisonError::into_inner);
    let expired: Vec<String> = state
        .instances
        .iter()
        .filter(|(_, lease)| lease.expires_at <= now)
        .map(|(id, _)| id.clone())
        .collect();
    for id in &expired {
        if let Some(lease) = state.instances.remove(id) {
            tracing::info!(instance = %id, service = %lease.record.registration.service, "lease expired");
            bump(&mut state, &lease.record.registration.service);
        }
    }
    let next = state.instances.values().map(|l| l.expires_at).min();
    let revision = state.revision;
    drop(state);
    if !expired.is_empty() {
        inner.changes.send_replace(revision);
    }
    next
}

/// Expires leases exactly when they end: sleeps until the earliest one, or until a registration
/// may have brought that moment forward. Holds the registry only weakly, so it ends with it.
async fn sweep_forever(registry: Weak<Inner>, wake: Arc<Notify>) {
    loop {
        let next = {
            let Some(inner) = registry.upgrade() else {
                return;
            };
            sweep_state(&inner, Instant::now())
        };
        // Without leases, look again now and then to notice that the registry is gone.
        let until = next.unwrap_or_else(|| Instant::now() + Duration::from_secs(60));
        tokio::select! {
            _ = tokio::time::sleep_until(until) => {}
            _ = wake.notified() => {}
        }
    }
}

fn invalid(parameter: &'static str, detail: impl Into<String>) -> RegistryError {
    RegistryError::Invalid {
        parameter,
        detail: detail.into(),
    }
}

/// Instance ids travel in URL paths and log lines: keep them short and plain.
pub fn is_valid_instance_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn validate(instance_id: &str, registration: &Registration) -> Result<(), RegistryError> {
    if !is_valid_instance_id(instance_id) {
        return Err(invalid(
            "instance_id",
            format!("instance id `{instance_id}` must be 1 to {MAX_ID_LEN} characters of A-Z, a-z, 0-9, -, _ and ."),
        ));
    }
    if registration.instance_id != instance_id {
        return Err(invalid(
            "instance_id",
            format!(
                "the body's instance_id `{}` differs from the one in the URL, `{instance_id}`",
                registration.instance_id
            ),
        ));
    }
    if !is_valid_service_name(&registration.service) {
        return Err(invalid("service", service_name_rule(&registration.service)));
    }
    if let Err(e) = registration.address.parse::<SocketAddr>() {
        return Err(invalid(
            "address",
            format!(
                "address `{}` is not an ip:port address: {e}",
                registration.address
            ),
        ));
    }
    let ttl = Duration::from_millis(registration.ttl_ms);
    if !(MIN_TTL..=MAX_TTL).contains(&ttl) {
        return Err(invalid(
            "ttl_ms",
            format!(
                "ttl_ms must be between {} and {}, got {}",
                MIN_TTL.as_millis(),
                MAX_TTL.as_millis(),
                registration.ttl_ms
            ),
        ));
    }
    if registration.version.len() > MAX_VERSION_LEN {
        return Err(invalid(
            "version",
            format!("version is longer than {MAX_VERSION_LEN} bytes"),
        ));
    }
    if registration.metadata.len() > MAX_METADATA_ENTRIES
        || registration
            .metadata
            .iter()
            .any(|(k, v)| k.len() > MAX_METADATA_LEN || v.len() > MAX_METADATA_LEN)
    {
        return Err(invalid(
            "metadata",
            format!("metadata takes at most {MAX_METADATA_ENTRIES} entries of at most {MAX_METADATA_LEN} bytes each"),
        ));
    }
    Ok(())
}
