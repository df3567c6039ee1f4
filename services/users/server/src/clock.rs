//! The wall clock the service reads for timestamps that outlive a process: when an account was
//! made, when a key was made or retired, when a token was issued. Injectable, so that tests can
//! move past a key's grace period or a rotation interval without waiting for it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Unix milliseconds, from the system or from a test. Cheap to clone; clones share the time.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicU64>>,
}

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that stands at the system's time now and moves only when [`Clock::advance`]d.
    pub fn manual() -> Clock {
        Clock {
            manual: Some(Arc::new(AtomicU64::new(brigade_chassis::time::unix_ms()))),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        match &self.manual {
            Some(ms) => ms.load(Ordering::SeqCst),
            None => brigade_chassis::time::unix_ms(),
        }
    }

    /// Moves a manual clock forward; the system clock cannot be moved, so this panics on it.
    pub fn advance(&self, by: Duration) {
        match &self.manual {
            Some(ms) => {
                ms.fetch_add(duration_ms(by), Ordering::SeqCst);
            }
            None => panic!("only a manual clock can be advanced"),
        }
    }
}

/// `duration` in whole milliseconds, saturating.
pub(crate) fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
