//! The orders service's tests, in one binary (each test binary costs a link on a small machine):
//!
//! - `saga`: the saga's state machine with a fake port, each test run against SQLite and
//!   PostgreSQL: every outcome, resuming from every persisted state, two instances' recovery;
//! - `http`: every route in process: idempotency, ownership, auth, bad input;
//! - `refunds`: payments' `PaymentRefunded` recorded in the order's history, once;
//! - `shipping`: a checkout with an address (quoted, added to the total, recorded; shipping
//!   down or refusing: nothing ordered), and shipping's `ShipmentCreated` in the history, once;
//! - `currency`: a checkout paid in another currency (converted, charged in it, recorded with
//!   its rate on both engines; currency down or not knowing the code: nothing ordered);
//! - `service`: real instances of orders, cart, catalog, inventory and payments on real sockets;
//! - `store`: the schema, the same on both engines.
// `too_many_lines` guards production code; a test that walks one table of cases reads best whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod currency;
mod http;
mod refunds;
mod saga;
mod service;
mod shipping;
mod store;
mod support;
