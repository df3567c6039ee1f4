//! End to end: `brigade up` as real processes on loopback, driven through the gateway and the
//! control port. One test binary (one link) for every end-to-end test; a module per subject.
// A test reads as one story from start to end, so it may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod chaos;
mod checkout;
mod colocated;
mod console;
mod console_data;
mod deploy;
mod dns_discovery;
mod events;
mod identity;
mod load;
mod logs;
mod operators;
mod postgres;
mod resilience;
mod scale;
mod secrets;
mod support;
mod system;
mod traces;
