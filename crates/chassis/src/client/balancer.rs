//! Choosing an instance: power of two choices on in-flight requests, skipping instances that
//! recently refused connections.
//!
//! Two random candidates, the less busy wins: nearly as good as asking every instance, at the cost
//! of two lookups, and it never herds all traffic onto one instance the way "least loaded" does
//! when every client sees the same stale counts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use crate::discovery::Endpoint;

/// How long an instance that refused a connection is skipped.
const CONNECT_FAILURE_COOLDOWN: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
struct InstanceState {
    in_flight: AtomicUsize,
    skip_until: Mutex<Option<Instant>>,
}

/// Per-destination balancing state, shared by the clones of one client.
#[derive(Debug, Default)]
pub struct Balancer {
    instances: Mutex<HashMap<SocketAddr, Arc<InstanceState>>>,
}

/// A request in flight to one instance; decrements the count when dropped.
#[derive(Debug)]
pub struct Lease {
    pub address: SocketAddr,
    state: Arc<InstanceState>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.state.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Lease {
    /// Records that the connection to this instance failed: skip it for a while.
    pub fn transport_failed(&self) {
        if let Ok(mut skip) = self.state.skip_until.lock() {
            *skip = Some(Instant::now() + CONNECT_FAILURE_COOLDOWN);
        }
    }
}

impl Balancer {
    fn state(&self, address: SocketAddr) -> Arc<InstanceState> {
        let mut instances = match self.instances.lock() {
            Ok(i) => i,
            Err(poisoned) => poisoned.into_inner(),
        };
        instances.entry(address).or_default().clone()
    }

    /// Picks an instance from `endpoints`, not one of `exclude` (already tried for this call).
    pub fn pick(&self, endpoints: &[Endpoint], exclude: &[SocketAddr]) -> Option<Lease> {
        let now = Instant::now();
        let candidates: Vec<(SocketAddr, Arc<InstanceState>)> = endpoints
            .iter()
            .filter(|e| !exclude.contains(&e.address))
            .map(|e| (e.address, self.state(e.address)))
            .collect();
        let healthy: Vec<&(SocketAddr, Arc<InstanceState>)> = candidates
            .iter()
            .filter(|(_, s)| {
                s.skip_until
                    .lock()
                    .map_or(true, |u| u.is_none_or(|u| u <= now))
            })
            .collect();
        // When every instance is cooling down, trying one beats failing outright.
        let pool: Vec<&(SocketAddr, Arc<InstanceState>)> = if healthy.is_empty() {
            candidates.iter().collect()
        } else {
            healthy
        };
        let chosen = match pool.len() {
            0 => return None,
            1 => pool[0],
            n => {
                let mut rng = rand::rng();
                let a = rng.random_range(0..n);
                let mut b = rng.random_range(0..n - 1);
                if b >= a {
                    b += 1;
                }
                let (load_a, load_b) = (
                    pool[a].1.in_flight.load(Ordering::Relaxed),
                    pool[b].1.in_flight.load(Ordering::Relaxed),
                );
                if load_a <= load_b {
                    pool[a]
                } else {
                    pool[b]
                }
            }
        };
        chosen.1.in_flight.fetch_add(1, Ordering::Relaxed);
        Some(Lease {
            address: chosen.0,
            state: chosen.1.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(n: u16) -> Vec<Endpoint> {
        (0..n)
            .map(|i| Endpoint {
                address: SocketAddr::from(([127, 0, 0, 1], 10_000 + i)),
                instance_id: None,
            })
            .collect()
    }

    #[test]
    fn spreads_concurrent_requests_across_instances() {
        let balancer = Balancer::default();
        let eps = endpoints(2);
        let leases: Vec<Lease> = (0..10).filter_map(|_| balancer.pick(&eps, &[])).collect();
        let first = leases
            .iter()
            .filter(|l| l.address == eps[0].address)
            .count();
        // With two instances, P2C always compares both and picks the less busy one.
        assert_eq!(first, 5);
    }

    #[tokio::test(start_paused = true)]
    async fn skips_an_instance_that_refused_connections_until_it_cools_down() {
        let balancer = Balancer::default();
        let eps = endpoints(2);
        let lease = balancer.pick(&eps, &[]).unwrap();
        let bad = lease.address;
        lease.transport_failed();
        drop(lease);
        for _ in 0..20 {
            assert_ne!(balancer.pick(&eps, &[]).unwrap().address, bad);
        }
        tokio::time::advance(CONNECT_FAILURE_COOLDOWN + Duration::from_millis(1)).await;
        assert!((0..50).any(|_| balancer.pick(&eps, &[]).unwrap().address == bad));
    }

    #[test]
    fn excludes_instances_already_tried() {
        let balancer = Balancer::default();
        let eps = endpoints(3);
        let tried = [eps[0].address, eps[1].address];
        for _ in 0..10 {
            assert_eq!(balancer.pick(&eps, &tried).unwrap().address, eps[2].address);
        }
        assert!(balancer.pick(&eps[..2], &tried).is_none());
    }
}
