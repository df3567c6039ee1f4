//! The shipping service's tests, in one binary (each test binary costs a link on a small
//! machine):
//!
//! - `store`: shipments on both engines, and the twin migrations' parity;
//! - `events`: `OrderConfirmed` through the chassis' inbox, repeats included, and the
//!   `ShipmentCreated` it leaves in the outbox, on both engines;
//! - `http`: every route in process, quotes by the table, bad input as problems, and the
//!   OpenAPI document;
//! - `service`: a real instance fed by a fake orders feed, called through the typed client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod events;
mod http;
mod service;
mod store;
mod support;
