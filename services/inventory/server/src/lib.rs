//! The inventory service: stock per SKU and reservations: reserve all or none, commit, release, expiry.

#![forbid(unsafe_code)]
