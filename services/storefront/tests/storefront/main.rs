//! The storefront's tests, in one binary (each test binary costs a link on a small machine),
//! against real service instances on real sockets, each started the way `main` starts it:
//!
//! - `browsing`: home, categories with paging and sort, search, product pages, images, assets;
//! - `security`: headers, the session cookie's flags, CSRF refusals;
//! - `journey`: guest cart → sign up → cart → checkout (refused fields, declined, confirmed,
//!   pending until it settles) → order pages → log out;
//! - `degradation`: pages without inventory, recommendations, payments or the catalog;
//! - `currency`: prices in the chosen currency, a checkout paid in it, and the currency service
//!   killed (catalog prices with a note; a foreign checkout orders nothing);
//! - `browser`: the same journey in headless Chromium, on to the shipment and the messages
//!   (skipped when it is not installed); `browser_failures`: a declined card, recommendations
//!   killed, and the checkout with JavaScript off, in Chromium; `chromium`: the shopper's steps
//!   in it (the browser itself is `brigade_chassis::testing::chromium`).
// `too_many_lines` guards production code; a test that walks one story reads best whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod browser;
mod browser_failures;
mod browsing;
mod chromium;
mod currency;
mod degradation;
mod journey;
mod security;
mod support;
