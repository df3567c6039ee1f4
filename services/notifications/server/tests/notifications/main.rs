//! The notifications service's tests, in one binary (each test binary costs a link on a small
//! machine):
//!
//! - `store`: the store suite on SQLite and PostgreSQL, and the twin migrations' parity;
//! - `events`: every event applied through the chassis' inbox, on both engines: each kind its
//!   message, twice applied one message, refunds before their order;
//! - `delivery`: the SMTP sender against a sink the test starts (sent once; a failing sink
//!   retried, later delivered once);
//! - `http`: the routes in process: a shopper's own messages, paging, bad input, another
//!   shopper's message, the OpenAPI document;
//! - `service`: a real instance fed through the embedded transport, sending by SMTP, stopping
//!   promptly.
// `too_many_lines` guards production code; a test that walks one table of cases reads best whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod delivery;
mod events;
mod http;
mod service;
mod store;
mod support;
