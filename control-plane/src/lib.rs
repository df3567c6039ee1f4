//! The Brigade control plane: the `brigade` command and what it is made of.
//!
//! - [`up`]: `brigade up`, the whole system on one machine from a [`manifest`].
//! - [`registry`]: service discovery's registry (leases, blocking queries), served on the control port.
//! - [`supervisor`]: child processes, restarted with backoff, stopped with SIGTERM then SIGKILL.
//! - [`control`]: the control port's server: registry, [`console`], the [`system`] view.
//! - [`status`]: `brigade status`.
//! - [`run`]: `brigade run SERVICE`, one service in the foreground (how `up` starts instances).
//! - [`bench`]: `brigade bench …`.
//! - [`checker`]: `brigade check`, the promise checker (also used by the end-to-end tests).
//! - [`chaos`]: `brigade chaos`, faults on purpose: request faults, kills and pauses, scenarios.
//!
//! **Architecture invariant:** the control plane is not on the request path. Services find each
//! other through the registry but call each other directly, and keep their last known instance
//! lists if the control plane goes away.

pub mod bench;
pub mod chaos;
pub mod checker;
pub mod console;
pub mod control;
pub mod events;
pub mod manifest;
pub mod output;
pub mod registry;
pub mod run;
pub mod status;
pub mod supervisor;
pub mod system;
pub mod up;
