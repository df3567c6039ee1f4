//! The orders service: orders and the checkout saga: reserve, charge, commit, or compensate.

#![forbid(unsafe_code)]
