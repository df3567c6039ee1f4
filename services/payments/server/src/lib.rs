//! The payments service: a simulated card processor: idempotent charges, refunds and a ledger.

#![forbid(unsafe_code)]
