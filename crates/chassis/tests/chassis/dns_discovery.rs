//! DNS discovery against a DNS server the test controls: what the server answers is what
//! callers see, one refresh later, whether instances are added, removed or all gone.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use brigade_chassis::discovery::{Dns, Endpoints, Resolver, Source};
use brigade_chassis::testing::dns::FakeDns;
use tokio::sync::watch;

/// Waits until the instances are `expected` (addresses on port 9000).
async fn wait_for(rx: &mut watch::Receiver<Endpoints>, expected: &[Ipv4Addr]) {
    let expected: Vec<SocketAddr> = expected
        .iter()
        .map(|ip| SocketAddr::from((*ip, 9000)))
        .collect();
    let seen = tokio::time::timeout(
        Duration::from_secs(10),
        rx.wait_for(|endpoints| {
            endpoints
                .as_deref()
                .is_some_and(|e| e.iter().map(|e| e.address).collect::<Vec<_>>() == expected)
        }),
    )
    .await
    .is_ok();
    assert!(
        seen,
        "instances never became {expected:?}; last {:?}",
        rx.borrow()
    );
}

#[tokio::test]
async fn callers_follow_the_records_the_dns_server_answers() {
    let dns = FakeDns::start().await;
    let name = "catalog.brigade.test";
    let (one, two, three) = (
        Ipv4Addr::new(127, 0, 0, 2),
        Ipv4Addr::new(127, 0, 0, 3),
        Ipv4Addr::new(127, 0, 0, 4),
    );
    dns.set(name, &[one, two]);
    let resolver = Resolver::new(Source::Dns(Dns {
        template: "{service}.brigade.test:9000".into(),
        server: Some(dns.address),
        refresh: Duration::from_millis(100),
    }));
    let mut catalog = resolver.watch("catalog");
    wait_for(&mut catalog, &[one, two]).await;

    // Scaled up, then down: the new record is used, the removed one is not.
    dns.set(name, &[one, two, three]);
    wait_for(&mut catalog, &[one, two, three]).await;
    dns.set(name, &[two, three]);
    wait_for(&mut catalog, &[two, three]).await;

    // Scaled to zero (no record, or no name at all): nobody to call, rather than the gone ones.
    dns.set(name, &[]);
    wait_for(&mut catalog, &[]).await;
    dns.set(name, &[three]);
    wait_for(&mut catalog, &[three]).await;
    dns.remove(name);
    wait_for(&mut catalog, &[]).await;
}

#[tokio::test]
async fn an_unanswering_dns_server_leaves_callers_with_the_instances_they_knew() {
    let dns = FakeDns::start().await;
    dns.set("users.brigade.test", &[Ipv4Addr::new(127, 0, 0, 2)]);
    let resolver = Resolver::new(Source::Dns(Dns {
        template: "{service}.brigade.test:9000".into(),
        server: Some(dns.address),
        refresh: Duration::from_millis(100),
    }));
    let mut users = resolver.watch("users");
    wait_for(&mut users, &[Ipv4Addr::new(127, 0, 0, 2)]).await;
    drop(dns);
    // Several lookups fail (each waits for its timeout); the list stays.
    tokio::time::sleep(Duration::from_secs(3)).await;
    wait_for(&mut users, &[Ipv4Addr::new(127, 0, 0, 2)]).await;
}
