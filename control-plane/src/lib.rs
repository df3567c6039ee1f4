//! The Brigade control plane: the `brigade` command, which wires what it is made of.
//!
//! - [`up`]: `brigade up`, the whole system on one machine from a [`manifest`], with the
//!   supervisor (`brigade_supervisor`), the registry (`brigade_registry`) and the control port
//!   (`brigade_operator::control`).
//! - [`run`]: `brigade run SERVICE`, one service in the foreground (how `up` starts instances);
//!   the only place that knows every service crate.
//! - The operator commands (`status`, `check`, `events`, `chaos`) live in `brigade_operator`,
//!   the benchmarks (`brigade bench …`) in `brigade_bench`: neither depends on any service, so
//!   editing a service rebuilds only that service and this crate.
//!
//! **Architecture invariant:** the control plane is not on the request path. Services find each
//! other through the registry but call each other directly, and keep their last known instance
//! lists if the control plane goes away.

pub mod manifest;
pub mod run;
pub mod up;
