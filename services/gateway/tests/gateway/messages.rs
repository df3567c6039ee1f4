//! `/api/v1/messages` over real sockets: a gateway instance calling a real notifications
//! instance whose store the test fills through the service's own event handlers (as orders'
//! events would), both trusting the test's keys.

use brigade_chassis::db::{migrate, Db, PoolOptions};
use brigade_chassis::events::{Envelope, Inbox};
use brigade_chassis::testing::{Instance, JsonAnswer, TestKeys};
use gateway::GatewayService;
use http::{Method, StatusCode};
use notifications_api::Delivery;
use uuid::Uuid;

use crate::api::product;
use crate::support::confirmed;

/// A notifications instance holding a confirmation for `buyer`, and a gateway calling it.
async fn start(dir: &std::path::Path, keys: &TestKeys, buyer: Uuid) -> (Instance, Instance) {
    let url = format!("sqlite://{}", dir.join("notifications.db").display());
    let db = Db::connect(&url, &PoolOptions::default()).await.unwrap();
    migrate(&db, notifications::MIGRATIONS).await.unwrap();
    let orders = notifications::events::orders(notifications::events::Write {
        delivery: Delivery::Stored,
    });
    let order = Envelope::of(&confirmed(buyer, &[&product(1)]), 1).unwrap();
    Inbox::new(db.clone())
        .apply(&orders, &order, None)
        .await
        .unwrap();
    db.close().await;
    let jwks = keys.jwks_path();
    let notifications = Instance::start::<notifications::Notifications>(&[
        "--database-url",
        &url,
        "--jwks-file",
        &jwks,
    ])
    .await;
    let peers = format!("notifications={}", notifications.address);
    let gateway =
        Instance::start::<GatewayService>(&["--peers", &peers, "--jwks-file", &jwks]).await;
    (gateway, notifications)
}

async fn messages(gateway: &Instance, query: &str, token: Option<&str>) -> JsonAnswer {
    let mut request = http::Request::builder()
        .method(Method::GET)
        .uri(format!("{}/api/v1/messages{query}", gateway.url()));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    brigade_chassis::testing::fetch_json(request.body(Default::default()).unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_reads_their_messages_and_only_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let keys = TestKeys::new();
    let buyer = Uuid::new_v4();
    let (gateway, notifications) = start(dir.path(), &keys, buyer).await;
    let token = keys.token(buyer, "ada@example.com");

    let page = messages(&gateway, "", Some(&token)).await.ok();
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!(page["items"][0]["kind"], "order_confirmed");
    assert_eq!(page["items"][0]["user_id"], buyer.to_string());
    let stranger = keys.token(Uuid::new_v4(), "mallory@example.com");
    let theirs = messages(&gateway, "?page_size=5", Some(&stranger))
        .await
        .ok();
    assert_eq!(theirs["total"], 0, "{theirs}");

    // Bad input is refused at the edge; no token, no messages.
    messages(&gateway, "?page=0", Some(&token))
        .await
        .invalid("page", "1 or more");
    let anonymous = messages(&gateway, "", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{anonymous:?}");

    // Notifications down: a 503 problem, not a hang or a 500.
    notifications.stop().await.unwrap();
    let down = messages(&gateway, "", Some(&token)).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE, "{down:?}");
    assert_eq!(down.content_type, "application/problem+json");
}
