//! A bulkhead: at most so many calls in flight to one dependency.
//!
//! Without it, a dependency that has become slow collects every task and connection the caller
//! has, one stuck call at a time, and the caller stops answering even the requests that never
//! needed that dependency. With it, calls beyond the limit fail at once and the rest of the
//! service keeps its capacity (promise 6: failure stays local).

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The concurrency limit of one dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkheadPolicy {
    /// The most calls in flight at once; further calls are refused at once.
    pub max_concurrent: usize,
}

impl Default for BulkheadPolicy {
    fn default() -> Self {
        BulkheadPolicy {
            max_concurrent: 256,
        }
    }
}

/// The bulkhead of one client.
#[derive(Debug)]
pub(crate) struct Bulkhead {
    slots: Arc<Semaphore>,
    limit: usize,
}

impl Bulkhead {
    pub(crate) fn new(policy: BulkheadPolicy) -> Bulkhead {
        let limit = policy.max_concurrent.clamp(1, Semaphore::MAX_PERMITS);
        Bulkhead {
            slots: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }

    /// A slot for one call, held until dropped; `None` when the limit is reached.
    pub(crate) fn try_enter(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_calls_beyond_the_limit_until_one_finishes() {
        let bulkhead = Bulkhead::new(BulkheadPolicy { max_concurrent: 2 });
        let first = bulkhead.try_enter().unwrap();
        let _second = bulkhead.try_enter().unwrap();
        assert!(bulkhead.try_enter().is_none());
        drop(first);
        assert!(bulkhead.try_enter().is_some());
    }
}
