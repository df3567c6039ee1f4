//! The gateway's tests, in one binary (each test binary costs a link on a small machine):
//!
//! - `api`: the public API over real sockets, against real service instances;
//! - `currency`: the currencies and conversion, against a real currency instance; checkout in
//!   another currency;
//! - `messages`: the shopper's messages, from a real notifications instance;
//! - `product_page`: the product page's aggregation, complete and degraded;
//! - `security`: attacks (forged tokens, credential stuffing, checkout automation, mass
//!   assignment, oversized headers) and the headers every answer carries;
//! - `shipping`: the shipping quote route against a real shipping instance.
// `too_many_lines` guards production code; a test that walks one table of cases reads best whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod api;
mod currency;
mod messages;
mod product_page;
mod security;
mod shipping;
mod support;
