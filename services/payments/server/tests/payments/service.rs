//! Real instances on real sockets, started the way `main` starts them, called through the typed
//! client that the orders service uses.

use std::time::Duration;

use brigade_chassis::client;
use brigade_chassis::events::FeedPage;
use brigade_chassis::testing::{addresses, static_client_with, Instance};
use payments_api::{problems, test_cards, ChargeStatus, LedgerQuery, PaymentsClient};
use uuid::Uuid;

use crate::support::{request, SLOW_DELAY};

async fn start(url: &str) -> Instance {
    let slow_card_delay = format!("{}ms", SLOW_DELAY.as_millis());
    Instance::start::<payments::Payments>(&[
        "--database-url",
        url,
        "--slow-card-delay",
        &slow_card_delay,
    ])
    .await
}

fn client(instances: &[&Instance], timeout: Duration) -> PaymentsClient {
    let options = client::Options {
        default_timeout: timeout,
    };
    PaymentsClient::new(static_client_with(
        "payments",
        addresses(instances),
        options,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_store_charge_refund_and_audit_through_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("payments.db").display());
    let (a, b) = tokio::join!(start(&url), start(&url));
    let payments = client(&[&a, &b], Duration::from_secs(5));

    let order = Uuid::new_v4();
    let key = format!("order-{order}");
    let paid = payments
        .charge(&key, &request(order, test_cards::APPROVED))
        .await
        .unwrap();
    assert_eq!(paid.status, ChargeStatus::Captured);
    // Repeats land on either instance and get the same charge.
    for _ in 0..4 {
        let again = payments
            .charge(&key, &request(order, test_cards::APPROVED))
            .await
            .unwrap();
        assert_eq!(again, paid);
    }
    assert_eq!(payments.charge_by_id(paid.id).await.unwrap(), paid);
    assert_eq!(
        payments.charges_for_order(order).await.unwrap(),
        vec![paid.clone()]
    );

    // The service's own problems reach the caller intact.
    let refused = payments
        .charge("another-key", &request(order, test_cards::APPROVED))
        .await
        .unwrap_err()
        .to_problem();
    assert_eq!(
        (refused.status, refused.code()),
        (409, problems::ALREADY_CHARGED)
    );
    assert_eq!(refused.extensions["charge_id"], paid.id.to_string());
    let failed = payments
        .charge(
            "flaky",
            &request(Uuid::new_v4(), test_cards::PROCESSOR_ERROR),
        )
        .await
        .unwrap_err()
        .to_problem();
    // A dependency's 5xx reaches the caller as the client's bad-gateway.
    assert_eq!(failed.status, 502);
    let missing = payments.charge_by_id(Uuid::new_v4()).await.unwrap_err();
    assert!(missing.is_not_found(), "{missing:?}");

    let declined = payments
        .charge("declined", &request(Uuid::new_v4(), test_cards::DECLINED))
        .await
        .unwrap();
    assert_eq!(declined.status, ChargeStatus::Declined);
    let not_refundable = payments
        .refund(declined.id, None)
        .await
        .unwrap_err()
        .to_problem();
    assert_eq!(
        (not_refundable.status, not_refundable.code()),
        (409, problems::NOT_REFUNDABLE)
    );

    let refunded = payments
        .refund(paid.id, Some("lost in transit"))
        .await
        .unwrap();
    assert_eq!(refunded.status, ChargeStatus::Refunded);
    assert_eq!(payments.refund(paid.id, None).await.unwrap(), refunded);

    let ledger = payments
        .ledger(&LedgerQuery {
            order_id: Some(order.to_string()),
            ..LedgerQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(ledger.items.len(), 2);
    let audit = payments.audit().await.unwrap();
    assert!(audit.violations.is_empty(), "{audit:?}");
    assert_eq!((audit.captures, audit.refunds), (1, 1));
    assert_eq!(audit.balance_minor_by_currency.get("EUR"), Some(&0));

    // Either instance's event feed carries what happened, once: the capture, the decline, the
    // refund (relayed from the shared outbox in commit order).
    let (mut types, mut after) = (Vec::new(), 0);
    while types.len() < 3 {
        let page: FeedPage = brigade_chassis::testing::harness_get_json(
            "payments",
            &format!("{}/v1/events/feed?after={after}&wait_ms=5000", b.url()),
        )
        .await
        .unwrap();
        assert!(!page.events.is_empty(), "the feed stopped at {types:?}");
        for item in page.events {
            after = item.position;
            types.push(item.event.event_type);
        }
    }
    assert_eq!(
        types,
        [
            "brigade.payments.PaymentCaptured",
            "brigade.payments.PaymentFailed",
            "brigade.payments.PaymentRefunded"
        ]
    );

    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_charge_outlives_a_short_deadline_and_a_retry_finds_it_captured() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("payments.db").display());
    let instance = start(&url).await;
    // The caller's deadline is shorter than the processor's delay.
    let impatient = client(&[&instance], Duration::from_millis(150));
    let order = Uuid::new_v4();
    let slow = request(order, test_cards::SLOW);
    let first = impatient.charge("slow", &slow).await.unwrap();
    assert_eq!(first.status, ChargeStatus::Pending);
    // A retry during the wait, with time to spare, waits for the outcome.
    let patient = client(&[&instance], Duration::from_secs(5));
    let settled = patient.charge("slow", &slow).await.unwrap();
    assert_eq!(settled.id, first.id);
    assert_eq!(settled.status, ChargeStatus::Captured);
    let audit = patient.audit().await.unwrap();
    assert!(audit.violations.is_empty(), "{audit:?}");
    assert_eq!(audit.captures, 1);
    instance.stop().await.unwrap();
}

/// Shutdown waits for the background tasks: its relay and the pending charges recovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_stops_promptly_with_its_background_tasks() {
    brigade_chassis::testing::assert_stops_promptly::<payments::Payments>(&[]).await;
}
