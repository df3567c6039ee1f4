//! The operator's side of Brigade: what talks to a running system, and the control port that it
//! talks to. Knows no service: it needs only the chassis, the contract (`*-api`) crates, and the
//! registry and supervisor (whose state the control port shows).
//!
//! - [`status`]: `brigade status`, and [`status::fetch`] of the system view that everything else reads.
//! - [`system`]: the system view (`GET /v1/system`), joining supervisor, registry and `/readyz`.
//! - [`control`]: the control port's server: registry, [`console`], the [`system`] view, chaos.
//! - [`console_data`]: what the console charts and draws: scraped figures per service, the map.
//! - [`credential`]: the operator credential `brigade up` writes and the control port demands
//!   of whoever changes the system.
//! - [`operator_auth`]: the control port's gate on changes, and where the commands find the
//!   credential.
//! - [`checker`]: `brigade check`, the promise checker (also used by the end-to-end tests).
//! - [`logs`]: the instances' log lines kept by the control port (and OTLP log records posted
//!   to it), and `brigade logs`.
//! - [`otlp`], [`otlp_metrics`]: what the OTLP/HTTP receivers share; the metrics receiver.
//! - [`telemetry_file`]: everything kept as OTLP JSON Lines, `brigade telemetry export|import`.
//! - [`events`]: `brigade events`, parked events listed and replayed.
//! - [`scale`]: `brigade scale` and `brigade restart`, live scaling and rolling restarts.
//! - [`chaos`]: `brigade chaos`, faults on purpose: request faults, kills and pauses, scenarios.
//! - [`harness`]: `brigade up` as a child process, for the benchmarks and the end-to-end tests.
//! - [`operator_identity`]: an operator's token for calling a service directly.
//! - [`output`]: what `brigade up` writes to its terminal, and figures for people.

pub mod chaos;
pub mod checker;
pub mod console;
pub mod console_data;
pub mod control;
pub mod credential;
pub mod events;
pub mod harness;
pub mod logs;
pub mod operator_auth;
mod operator_identity;
pub mod otlp;
pub mod otlp_metrics;
pub mod output;
pub mod scale;
pub mod status;
pub mod system;
pub mod telemetry_file;
#[cfg(test)]
mod testing;
pub mod traces;

pub use operator_identity::{operator_identity, operator_presenter, OperatorIdentityError};
