//! The checkout saga: reserve, charge, commit — or compensate — driven from the state persisted
//! with the order, so that any instance can resume it after a crash at any point.
//!
//! - [`port`]: the calls the saga makes, as a trait ([`Steps`]);
//! - [`driver`]: one saga driven to its end by the instance holding its lease;
//! - [`recovery`]: the loop in every instance that claims unfinished sagas and resumes them.

mod charging;
mod driver;
pub mod port;
pub mod recovery;

use std::sync::Arc;
use std::time::Duration;

pub use driver::Ended;
pub use port::{
    CartContents, CartItem, Charged, Committed, Reserved, StepError, StepFuture, Steps, StockLine,
};

use crate::store::{Lease, Store};

/// The saga's timing knobs.
#[derive(Debug, Clone)]
pub struct SagaConfig {
    /// How long a lease on a saga lasts without renewal; the driver renews it at a third of this.
    pub lease: Duration,
    /// The most charge attempts whose outcome stays unknown before the payment counts as failed.
    pub payment_attempts: u32,
    /// The longest time from the first charge attempt before the payment counts as failed.
    pub payment_retry_for: Duration,
    /// The first wait before repeating a call whose outcome was unknown; doubled each time.
    pub backoff: Duration,
    /// The longest wait between repeats.
    pub max_backoff: Duration,
    /// Test-only fault hook: exit the process right after persisting this checkpoint.
    pub crash_after: Option<Checkpoint>,
}

impl Default for SagaConfig {
    fn default() -> Self {
        SagaConfig {
            lease: Duration::from_secs(15),
            payment_attempts: 5,
            payment_retry_for: Duration::from_secs(120),
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
            crash_after: None,
        }
    }
}

/// A point right after a saga step is persisted, where the crash hook may stop the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Checkpoint {
    /// The order and its idempotency record are recorded; nothing called yet.
    Created,
    /// The reservation is held.
    Reserved,
    /// The charge is captured.
    Charged,
    /// The reservation is committed and the order confirmed.
    Committed,
    /// A compensation released the reservation and the order is cancelled.
    Released,
    /// A compensation refunded the charge and the order is cancelled.
    Refunded,
}

impl Checkpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Checkpoint::Created => "created",
            Checkpoint::Reserved => "reserved",
            Checkpoint::Charged => "charged",
            Checkpoint::Committed => "committed",
            Checkpoint::Released => "released",
            Checkpoint::Refunded => "refunded",
        }
    }
}

/// Runs sagas: the store, the port, this instance's identity and the timing knobs. Cheap to
/// clone.
#[derive(Clone)]
pub struct Saga {
    pub(crate) store: Store,
    pub(crate) steps: Arc<dyn Steps>,
    pub(crate) lease: Lease,
    pub(crate) config: Arc<SagaConfig>,
}

impl std::fmt::Debug for Saga {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Saga")
            .field("instance", &self.lease.instance)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Saga {
    /// `instance` names this instance in leases; it must differ between live instances.
    pub fn new(store: Store, steps: Arc<dyn Steps>, instance: &str, config: SagaConfig) -> Saga {
        Saga {
            store,
            steps,
            lease: Lease {
                instance: instance.to_owned(),
                duration: config.lease,
            },
            config: Arc::new(config),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn steps(&self) -> &Arc<dyn Steps> {
        &self.steps
    }

    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    pub fn config(&self) -> &SagaConfig {
        &self.config
    }

    /// The test-only crash hook: when configured for `checkpoint`, ends the process at once,
    /// as a kill would, without unwinding or draining. It exists so that end-to-end tests can
    /// prove a saga resumes from every persisted state; it is off unless
    /// `--crash-after-step` is given.
    pub(crate) fn checkpoint(&self, checkpoint: Checkpoint) {
        if self.config.crash_after == Some(checkpoint) {
            tracing::warn!(
                checkpoint = checkpoint.as_str(),
                "crash hook: exiting right after this checkpoint, as configured"
            );
            std::process::exit(137);
        }
    }
}

// The wall clock in Unix milliseconds: leases are compared across processes, so they use the
// time every process agrees on.
pub(crate) use brigade_chassis::time::now_ms;
