//! The recommendations service's tests, in one binary (each test binary costs a link on a small
//! machine):
//!
//! - `store`: the model's ranking, each test run against SQLite and against PostgreSQL;
//! - `events`: the handlers through the chassis' inbox, as deliveries arrive (repeats included),
//!   on both backends;
//! - `http`: every route in process, the answers' shape, and bad input on every parameter;
//! - `service`: a real instance on a real socket, fed by fake producers' event feeds through the
//!   chassis' embedded transport, called through the typed client.
// `too_many_lines` guards production code; a test that walks one table of cases reads best whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod events;
mod http;
mod service;
mod store;
mod support;
