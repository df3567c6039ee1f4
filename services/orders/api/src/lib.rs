//! The orders service's contract: orders and the checkout saga: reserve, charge, commit, or compensate.

#![forbid(unsafe_code)]
