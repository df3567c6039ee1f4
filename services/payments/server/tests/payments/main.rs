//! The payments tests, in one binary (each test binary costs a link on a small machine):
//!
//! - `store`: the processor and its store, each test run against SQLite and against PostgreSQL;
//! - `events`: the events each change publishes, against both backends;
//! - `http`: every route in process, happy paths and bad input;
//! - `service`: real instances on real sockets, called through the typed client.
// `too_many_lines` guards production code; a test that walks one table of cases reads best whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod events;
mod http;
mod service;
mod store;
mod support;
