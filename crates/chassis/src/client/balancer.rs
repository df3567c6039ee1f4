//! Choosing an instance: power of two choices on in-flight requests, skipping instances that
//! recently refused connections and ejecting those that keep failing.
//!
//! Two random candidates, the less busy wins: nearly as good as asking every instance, at the cost
//! of two lookups, and it never herds all traffic onto one instance the way "least loaded" does
//! when every client sees the same stale counts.
//!
//! Outlier ejection (as in Envoy): an instance that fails several calls in a row (5xx answers or
//! transport failures) is taken out of balancing for a time that grows each time it is ejected
//! again, so that a broken instance stops taking a share of every caller's requests while the
//! others are fine. At most a bounded share of the instances is ever ejected, and never the
//! last one: when most instances fail, the fault is likely not theirs, and ejecting them all
//! would turn a partial outage into a full one.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use rand::Rng;
use tokio::time::Instant;

use crate::discovery::Endpoint;

/// How long an instance that refused a connection is skipped.
const CONNECT_FAILURE_COOLDOWN: Duration = Duration::from_secs(2);

/// When instances are ejected from balancing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EjectionPolicy {
    /// Failures in a row (5xx answers, transport failures) that eject an instance.
    pub consecutive_failures: u32,
    /// The first ejection's length; the n-th in a row lasts n times as long.
    pub base_ejection: Duration,
    /// The longest an ejection lasts.
    pub max_ejection: Duration,
    /// The largest share of instances (in percent) ejected at once; the last instance never is.
    pub max_ejected_percent: u8,
}

impl Default for EjectionPolicy {
    fn default() -> Self {
        EjectionPolicy {
            consecutive_failures: 5,
            base_ejection: Duration::from_secs(30),
            max_ejection: Duration::from_secs(300),
            max_ejected_percent: 50,
        }
    }
}

#[derive(Debug, Default)]
struct Health {
    /// Until when the instance is skipped after refusing a connection.
    skip_until: Option<Instant>,
    consecutive_failures: u32,
    ejected_until: Option<Instant>,
    times_ejected: u32,
}

#[derive(Debug, Default)]
struct InstanceState {
    in_flight: AtomicUsize,
    health: Mutex<Health>,
}

impl InstanceState {
    fn health(&self) -> MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug, Default)]
struct Shared {
    policy: EjectionPolicy,
    instances: Mutex<HashMap<SocketAddr, Arc<InstanceState>>>,
    /// How many instances the last pick chose among: the base of the ejected share.
    known: AtomicUsize,
    /// Held while deciding on an ejection, so that two at once cannot exceed the share.
    ejecting: Mutex<()>,
    ejections: Counter,
}

impl Shared {
    fn instances(&self) -> MutexGuard<'_, HashMap<SocketAddr, Arc<InstanceState>>> {
        self.instances
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Per-destination balancing state, shared by the clones of one client.
#[derive(Debug, Default)]
pub struct Balancer {
    shared: Arc<Shared>,
}

/// A request in flight to one instance; decrements the count when dropped.
#[derive(Debug)]
pub struct Lease {
    pub address: SocketAddr,
    state: Arc<InstanceState>,
    shared: Arc<Shared>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.state.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Lease {
    /// Records that the connection to this instance failed: skip it for a while, and count a
    /// failure towards its ejection.
    pub fn transport_failed(&self) {
        self.state.health().skip_until = Some(Instant::now() + CONNECT_FAILURE_COOLDOWN);
        self.failed();
    }

    /// Records a failure of this instance (a 5xx answer, no answer in time).
    pub fn failed(&self) {
        let policy = self.shared.policy;
        {
            let mut health = self.state.health();
            health.consecutive_failures += 1;
            if health.consecutive_failures < policy.consecutive_failures.max(1) {
                return;
            }
        }
        let _deciding = self
            .shared
            .ejecting
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let known = self.shared.known.load(Ordering::Relaxed);
        let allowed = (known * usize::from(policy.max_ejected_percent.min(100)) / 100)
            .min(known.saturating_sub(1));
        let ejected = self
            .shared
            .instances()
            .values()
            .filter(|s| s.health().ejected_until.is_some_and(|u| u > now))
            .count();
        let mut health = self.state.health();
        if health.ejected_until.is_some_and(|u| u > now) {
            return;
        }
        if ejected >= allowed {
            // Keep counting: it is ejected as soon as the share allows.
            tracing::debug!(address = %self.address, ejected, allowed, "instance failing, but no more may be ejected");
            return;
        }
        health.times_ejected += 1;
        health.consecutive_failures = 0;
        let length = policy
            .base_ejection
            .saturating_mul(health.times_ejected)
            .min(policy.max_ejection);
        health.ejected_until = Some(now + length);
        self.shared.ejections.inc();
        tracing::warn!(
            address = %self.address,
            times = health.times_ejected,
            seconds = length.as_secs(),
            "instance ejected from balancing after failing repeatedly"
        );
    }

    /// Records that this instance answered: its run of failures is over. Once it has stayed
    /// healthy for a base ejection time after returning, its next ejection is short again.
    pub fn succeeded(&self) {
        let mut health = self.state.health();
        health.consecutive_failures = 0;
        let base = self.shared.policy.base_ejection;
        if health
            .ejected_until
            .is_some_and(|u| Instant::now() >= u + base)
        {
            health.times_ejected = 0;
            health.ejected_until = None;
        }
    }
}

impl Balancer {
    /// A balancer ejecting instances by `policy`, counting ejections in `ejections`.
    pub fn new(policy: EjectionPolicy, ejections: Counter) -> Balancer {
        Balancer {
            shared: Arc::new(Shared {
                policy,
                ejections,
                ..Shared::default()
            }),
        }
    }

    fn state(&self, address: SocketAddr) -> Arc<InstanceState> {
        self.shared.instances().entry(address).or_default().clone()
    }

    /// Whether `address` is ejected now.
    pub fn is_ejected(&self, address: SocketAddr) -> bool {
        let now = Instant::now();
        self.shared
            .instances()
            .get(&address)
            .is_some_and(|s| s.health().ejected_until.is_some_and(|u| u > now))
    }

    /// Picks an instance from `endpoints`, not one of `exclude` (already tried for this call).
    pub fn pick(&self, endpoints: &[Endpoint], exclude: &[SocketAddr]) -> Option<Lease> {
        let now = Instant::now();
        self.shared.known.store(endpoints.len(), Ordering::Relaxed);
        let candidates: Vec<(SocketAddr, Arc<InstanceState>, bool, bool)> = endpoints
            .iter()
            .filter(|e| !exclude.contains(&e.address))
            .map(|e| {
                let state = self.state(e.address);
                let (ejected, cooling) = {
                    let health = state.health();
                    (
                        health.ejected_until.is_some_and(|u| u > now),
                        health.skip_until.is_some_and(|u| u > now),
                    )
                };
                (e.address, state, ejected, cooling)
            })
            .collect();
        let healthy: Vec<_> = candidates.iter().filter(|c| !c.2 && !c.3).collect();
        // When every instance is cooling down, trying one beats failing outright; an ejected
        // one comes last.
        let pool: Vec<_> = if !healthy.is_empty() {
            healthy
        } else if candidates.iter().any(|c| !c.2) {
            candidates.iter().filter(|c| !c.2).collect()
        } else {
            candidates.iter().collect()
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
            shared: self.shared.clone(),
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

    fn fail(balancer: &Balancer, eps: &[Endpoint], address: SocketAddr, times: u32) {
        for _ in 0..times {
            let lease = loop {
                let lease = balancer.pick(eps, &[]).unwrap();
                if lease.address == address {
                    break lease;
                }
            };
            lease.failed();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn ejects_an_instance_after_consecutive_failures_and_takes_it_back_later() {
        let ejections = Counter::default();
        let balancer = Balancer::new(EjectionPolicy::default(), ejections.clone());
        let eps = endpoints(3);
        let bad = eps[0].address;
        fail(&balancer, &eps, bad, 4);
        assert!(!balancer.is_ejected(bad), "4 failures");
        // A success ends the run of failures.
        let lease = loop {
            let lease = balancer.pick(&eps, &[]).unwrap();
            if lease.address == bad {
                break lease;
            }
        };
        lease.succeeded();
        drop(lease);
        fail(&balancer, &eps, bad, 4);
        assert!(!balancer.is_ejected(bad));
        fail(&balancer, &eps, bad, 1);
        assert!(balancer.is_ejected(bad));
        assert_eq!(ejections.get(), 1);
        for _ in 0..50 {
            assert_ne!(balancer.pick(&eps, &[]).unwrap().address, bad);
        }
        // Back after 30 s.
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(!balancer.is_ejected(bad));
        assert!((0..50).any(|_| balancer.pick(&eps, &[]).unwrap().address == bad));
        // Failing again at once: ejected for twice as long.
        fail(&balancer, &eps, bad, 5);
        assert_ejected_for(&balancer, bad, 60).await;
    }

    #[tokio::test(start_paused = true)]
    async fn ejection_length_is_capped() {
        let balancer = Balancer::default();
        let eps = endpoints(2);
        let bad = eps[0].address;
        for _ in 0..20 {
            fail(&balancer, &eps, bad, 5);
            tokio::time::advance(Duration::from_secs(300)).await;
        }
        fail(&balancer, &eps, bad, 5);
        assert_ejected_for(&balancer, bad, 300).await;
    }

    /// Checks that `address` stays ejected for `seconds` from now, and not a second longer.
    async fn assert_ejected_for(balancer: &Balancer, address: SocketAddr, seconds: u64) {
        tokio::time::advance(Duration::from_secs(seconds - 1)).await;
        assert!(balancer.is_ejected(address));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!balancer.is_ejected(address));
    }

    #[tokio::test(start_paused = true)]
    async fn never_ejects_more_than_half_the_instances_nor_the_last_one() {
        let balancer = Balancer::default();
        let eps = endpoints(4);
        for ep in &eps {
            fail(&balancer, &eps, ep.address, 5);
        }
        let ejected = eps
            .iter()
            .filter(|e| balancer.is_ejected(e.address))
            .count();
        assert_eq!(ejected, 2);

        let single = Balancer::default();
        let one = endpoints(1);
        fail(&single, &one, one[0].address, 50);
        assert!(!single.is_ejected(one[0].address));
        assert_eq!(single.pick(&one, &[]).unwrap().address, one[0].address);
    }
}
