//! The currency service's tests, in one binary (each test binary costs a link on a small
//! machine):
//!
//! - `store` and `reads`: loading, replacing and reading the table of rates, each test run
//!   against SQLite and against PostgreSQL;
//! - `conversion`: the arithmetic over the whole sample table (round trips, exponents);
//! - `http`: every route in process, the answers' shape, and bad input on every parameter;
//! - `service`: real instances on real sockets, called through the typed client, restarted.
// `too_many_lines` guards production code; a test that walks one table of cases reads best whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod conversion;
mod http;
mod reads;
mod service;
mod store;
mod support;
