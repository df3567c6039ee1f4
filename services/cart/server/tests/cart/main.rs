//! The cart's tests, in one binary (each test binary costs a link on a small machine):
//!
//! - `store`: the store suite, each test run against SQLite and against PostgreSQL;
//! - `events`: orders' `OrderConfirmed` applied through the chassis' inbox, on both engines;
//! - `http`: every route in process against a fake catalog that speaks the real contract (so
//!   that prices can change and products vanish), happy paths, bad input and a catalog outage;
//! - `service`: real instances on real sockets with a real catalog, called through the typed
//!   client, including two cart instances sharing one store.
// `too_many_lines` guards production code; a test that walks one table of cases reads best whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod events;
mod http;
mod service;
mod store;
mod support;
