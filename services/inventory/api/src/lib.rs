//! The inventory service's contract: stock per SKU and reservations: reserve all or none, commit, release, expiry.

#![forbid(unsafe_code)]
