//! When to stop: SIGTERM, Ctrl-C, or the supervising process going away.
//!
//! The last one matters on one machine: `brigade up` starts every instance as its child, and a
//! child must not outlive it even when it is killed with SIGKILL and cannot stop them. Each child
//! is told its supervisor's pid and stops as soon as its parent is no longer that process.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Why the service is stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Terminate,
    Interrupt,
    ParentGone,
    /// Asked by the embedding code (tests, the control plane).
    Requested,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reason::Terminate => "SIGTERM",
            Reason::Interrupt => "interrupt",
            Reason::ParentGone => "the supervising process is gone",
            Reason::Requested => "requested",
        })
    }
}

/// Resolves when the process is asked to stop. `parent_pid`: the supervisor to outlive not.
pub async fn signal(parent_pid: Option<u32>) -> Reason {
    let parent_gone = async move {
        match parent_pid {
            Some(pid) => loop {
                if std::os::unix::process::parent_id() != pid {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            },
            None => std::future::pending().await,
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = terminate => Reason::Terminate,
        _ = tokio::signal::ctrl_c() => Reason::Interrupt,
        _ = parent_gone => Reason::ParentGone,
    }
}

/// Tells background work (relays, consumers, sweeps) that the service is stopping. Cheap to
/// clone; every clone sees the same stop. A view of the process's background
/// [`CancellationToken`] (see `service::Background`) that can only watch, not cancel.
#[derive(Debug, Clone)]
pub struct Stopping(CancellationToken);

impl From<CancellationToken> for Stopping {
    fn from(token: CancellationToken) -> Stopping {
        Stopping(token)
    }
}

impl Stopping {
    /// A signal that never fires (for tools and tests that stop work by dropping it).
    pub fn never() -> Stopping {
        Stopping(CancellationToken::new())
    }

    pub fn is_stopped(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Resolves once the stop is given.
    pub async fn stopped(&mut self) {
        self.0.cancelled().await;
    }

    /// Resolves once the stop is given, borrowing the signal shared (for `select!` loops).
    pub fn cancelled(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.0.cancelled()
    }
}
