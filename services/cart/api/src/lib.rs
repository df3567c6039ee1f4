//! The cart service's contract: one cart per user, lines validated against the catalog.

#![forbid(unsafe_code)]
