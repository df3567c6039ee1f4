//! The users service's tests, in one binary (each test binary costs a link on a small machine):
//!
//! - `store`: accounts and signing keys in the store, each test run against SQLite and PostgreSQL;
//! - `keys`: signing, verifying and rotating with the key ring, against both backends;
//! - `sealing`: the signing keys encrypted at rest, read straight from the store;
//! - `http`: every route in process, happy paths and bad input, against both backends;
//! - `service`: real instances on real sockets, called through the typed client, with a token
//!   verified by a verifier that fetches the keys as another service would.
// `too_many_lines` guards production code; a test that walks one table of cases reads best whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod http;
mod keys;
mod sealing;
mod service;
mod store;
mod support;
