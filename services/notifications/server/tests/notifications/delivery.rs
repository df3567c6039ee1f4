//! The SMTP sender against a sink the test starts on 127.0.0.1: a pending message is sent once
//! and recorded as sent; a sink that refuses it leaves it pending, tried again after the backoff
//! and then delivered once; a message without a known address waits.

use std::time::Duration;

use brigade_chassis::testing::sqlite_db;
use lettre::message::Mailbox;
use notifications::delivery::Sender;
use notifications::Store;
use notifications_api::{Delivery, Message};
use uuid::Uuid;

use crate::support::{confirmed, deliver, envelope, migrated, SmtpSink};

fn from() -> Mailbox {
    "Brigade <shop@brigade.test>".parse().unwrap()
}

/// A store holding one pending confirmation for a shopper whose address is known.
async fn one_pending() -> (Store, Uuid, tempfile::TempDir) {
    let (db, dir) = sqlite_db().await;
    let store = migrated(db.clone()).await;
    let user = Uuid::new_v4();
    let order = confirmed(user, Uuid::new_v4());
    deliver(&db, &envelope(&order), Delivery::Pending).await;
    store
        .remember_address(user, "ada@example.com")
        .await
        .unwrap();
    (store, user, dir)
}

async fn only_message(store: &Store, user: Uuid) -> Message {
    let page = brigade_chassis::validation::Page {
        page: 1,
        page_size: 10,
    };
    let mut items = store.page(user, page).await.unwrap().items;
    assert_eq!(items.len(), 1);
    items.remove(0)
}

#[tokio::test]
async fn a_pending_message_is_sent_once_and_recorded_as_sent() {
    let sink = SmtpSink::start(0).await;
    let (store, user, _dir) = one_pending().await;
    let sender = Sender::new(store.clone(), &sink.url, from()).unwrap();
    assert_eq!(sender.pass().await.unwrap(), 1);
    let message = only_message(&store, user).await;
    assert_eq!(message.delivery, Delivery::Sent);
    let mail = &sink.received()[0];
    assert!(mail.contains("To: ada@example.com"), "{mail}");
    assert!(mail.contains("From: Brigade <shop@brigade.test>"), "{mail}");
    assert!(
        mail.contains(&format!("Subject: {}", message.subject)),
        "{mail}"
    );
    assert!(mail.contains("multipart/alternative"), "{mail}");
    assert!(mail.contains("text/html"), "{mail}");
    assert!(
        mail.contains(&format!("<{}@notifications.brigade>", message.id)),
        "{mail}"
    );
    assert_never_again(&sender, &sink).await;
}

/// The sink holds one message, and another pass sends nothing: sent is never sent again.
async fn assert_never_again(sender: &Sender, sink: &SmtpSink) {
    assert_eq!(sink.received().len(), 1);
    assert_eq!(sender.pass().await.unwrap(), 0);
    assert_eq!(sink.received().len(), 1);
}

#[tokio::test]
async fn a_refusing_server_leaves_the_message_pending_until_a_later_attempt_delivers_it_once() {
    let sink = SmtpSink::start(1).await;
    let (store, user, _dir) = one_pending().await;
    let sender = Sender::new(store.clone(), &sink.url, from()).unwrap();
    assert_eq!(sender.pass().await.unwrap(), 0);
    assert_eq!(only_message(&store, user).await.delivery, Delivery::Pending);
    // Not due again before its backoff (a second).
    assert_eq!(sender.pass().await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(sender.pass().await.unwrap(), 1);
    assert_eq!(only_message(&store, user).await.delivery, Delivery::Sent);
    assert_never_again(&sender, &sink).await;
}

#[tokio::test]
async fn an_unreachable_server_loses_nothing() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    drop(listener);
    let (store, user, _dir) = one_pending().await;
    let sender = Sender::new(store.clone(), &url, from()).unwrap();
    assert_eq!(sender.pass().await.unwrap(), 0);
    assert_eq!(only_message(&store, user).await.delivery, Delivery::Pending);
    // A sender started later (a restart) with a working server delivers it.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let sink = SmtpSink::start(0).await;
    let restarted = Sender::new(store.clone(), &sink.url, from()).unwrap();
    assert_eq!(restarted.pass().await.unwrap(), 1);
    assert_never_again(&restarted, &sink).await;
}
