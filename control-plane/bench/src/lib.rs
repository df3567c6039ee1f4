//! `brigade bench …`: benchmarks that print figures side by side with a baseline measured in the
//! same run, because this kind of machine is shared and noisy: only ratios and medians travel.

pub mod checkout;
pub mod events;
pub mod hop;
mod load;
pub mod resilience;
pub mod up;
