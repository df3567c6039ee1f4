//! A real instance on a real socket, started the way `main` starts it: fed through the chassis'
//! embedded transport by fake producers (orders' and payments' feeds, speaking the real feed
//! contract), trusting `--jwks-file`, sending through an SMTP sink, called through the typed
//! client the edges use.

use std::time::Duration;

use brigade_chassis::events::Envelope;
use brigade_chassis::testing::{own_args, static_client, FakeFeed, Instance, TestKeys};
use notifications::Notifications;
use notifications_api::{Delivery, ListMessages, MessageKind, NotificationsClient};
use uuid::Uuid;

use crate::support::{confirmed, refunded, registered, SmtpSink};

/// An instance fed by fake orders', payments' and users' feeds, sending through an SMTP sink;
/// it keeps what the instance reads (its store's directory, the JWKS file) for as long.
struct Running {
    orders: FakeFeed,
    payments: FakeFeed,
    users: FakeFeed,
    sink: SmtpSink,
    keys: TestKeys,
    instance: Instance,
    _dir: tempfile::TempDir,
}

impl Running {
    async fn start() -> Running {
        let (orders, payments, users) = (
            FakeFeed::start().await,
            FakeFeed::start().await,
            FakeFeed::start().await,
        );
        let sink = SmtpSink::start(0).await;
        let keys = TestKeys::new();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("notifications.db").display());
        let peers = format!(
            "orders={};payments={};users={}",
            orders.address, payments.address, users.address
        );
        let jwks = keys.jwks_path();
        let instance = Instance::start::<Notifications>(&[
            "--database-url",
            &url,
            "--peers",
            &peers,
            "--jwks-file",
            &jwks,
            "--smtp-url",
            &sink.url,
            "--delivery-interval",
            "100ms",
        ])
        .await;
        Running {
            orders,
            payments,
            users,
            sink,
            keys,
            instance,
            _dir: dir,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_becomes_a_message_sent_by_email_and_read_through_the_client() {
    // Every part bound, none dropped early (`_users`, `_dir` too).
    let Running {
        orders,
        payments,
        users: _users,
        sink,
        keys,
        instance,
        _dir,
    } = Running::start().await;
    let user = Uuid::new_v4();
    let order = confirmed(user, Uuid::new_v4());
    orders.push(Envelope::of(&order, 1).unwrap());
    payments.push(Envelope::of(&refunded(Uuid::new_v4(), 100), 1).unwrap());

    let client = NotificationsClient::new(static_client("notifications", vec![instance.address]));
    let token = keys.token(user, "ada@example.com");
    let mut page = None;
    for _ in 0..100 {
        let answer = client
            .messages(&token, &ListMessages::default())
            .await
            .unwrap();
        if answer.total == 1 && !sink.received().is_empty() {
            page = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = page.expect("the message was written and sent within 10 s");
    assert_eq!(page.items[0].kind, MessageKind::OrderConfirmed);
    let sent = client.message(&token, page.items[0].id).await.unwrap();
    assert_eq!(sent.delivery, Delivery::Sent);
    assert!(sink.received()[0].contains("To: ada@example.com"));
    assert_eq!(sink.received().len(), 1);
    // Another shopper's message is not found.
    let stranger = keys.token(Uuid::new_v4(), "mallory@example.com");
    let error = client.message(&stranger, sent.id).await.unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    instance.assert_stops_within(Duration::from_secs(2)).await;
}

/// A shopper who signs up and checks out, and never opens their messages, is emailed the
/// confirmation: the address comes with users' `UserRegistered`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_shoppers_first_confirmation_is_emailed_before_they_read_their_messages() {
    let Running {
        orders,
        payments: _payments,
        users,
        sink,
        keys: _keys,
        instance,
        _dir,
    } = Running::start().await;
    let user = Uuid::new_v4();
    users.push(Envelope::of(&registered(user, Some("new@example.com")), 1).unwrap());
    let order = confirmed(user, Uuid::new_v4());
    orders.push(Envelope::of(&order, 1).unwrap());

    let mut sent = Vec::new();
    for _ in 0..100 {
        sent = sink.received();
        if !sent.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sent.len(), 1, "the confirmation was emailed within 10 s");
    assert!(sent[0].contains("To: new@example.com"), "{}", sent[0]);
    assert!(sent[0].contains("is confirmed"), "{}", sent[0]);
    instance.assert_stops_within(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn the_flags_are_checked_at_start() {
    let settings = own_args::<Notifications>(&[]).unwrap();
    assert_eq!(settings.smtp_url, None);
    assert_eq!(settings.smtp_from.email.to_string(), "shop@brigade.invalid");
    assert_eq!(settings.delivery_interval, Duration::from_secs(1));
    let configured = own_args::<Notifications>(&["--smtp-url", "smtp://127.0.0.1:2525"]).unwrap();
    assert_eq!(
        configured.smtp_url.as_deref(),
        Some("smtp://127.0.0.1:2525")
    );
    assert!(own_args::<Notifications>(&["--smtp-url", "http://mail"]).is_none());
    assert!(own_args::<Notifications>(&["--smtp-from", "not an address"]).is_none());
    for bad in ["0s", "soon"] {
        assert!(own_args::<Notifications>(&["--delivery-interval", bad]).is_none());
    }
}
