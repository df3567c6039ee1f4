//! The cart service: one cart per user, lines validated against the catalog.

#![forbid(unsafe_code)]
