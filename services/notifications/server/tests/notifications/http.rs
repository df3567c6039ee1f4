//! The routes in process, over a SQLite store filled through the events: a shopper's own
//! messages, newest first and paged; one message, never another shopper's; bad input refused
//! with problems; the OpenAPI document covering exactly the routes served.

use brigade_chassis::db::Db;
use brigade_chassis::testing::{assert_openapi_covers, JsonAnswer, SqliteApp, TestKeys};
use http::{Method, StatusCode};
use notifications::{AppState, Store};
use notifications_api::{Message, MessagePage};
use uuid::Uuid;

use crate::support::{apply, confirmed, migrated, refunded};

/// The operations the service documents besides its document's own route.
const OPERATIONS: &[&str] = &["GET /v1/messages", "GET /v1/messages/{id}"];

/// The notifications routes over a fresh SQLite store (their state), and the keys that sign
/// the shoppers' tokens.
struct App {
    routes: SqliteApp<Db>,
    keys: TestKeys,
}

impl App {
    async fn new() -> App {
        let keys = TestKeys::new();
        let verifier = keys.verifier();
        let routes = SqliteApp::start(
            |db: Db| async move {
                migrated(db.clone()).await;
                db
            },
            |db| {
                let store = Store::new(db.clone());
                notifications::router(AppState { store, verifier })
            },
        )
        .await;
        App { routes, keys }
    }

    /// GETs `uri` as `user` (signed in when there is one).
    async fn get(&self, uri: &str, user: Option<Uuid>) -> JsonAnswer {
        let token = user.map(|u| self.keys.token(u, "shopper@example.com"));
        let request = self.routes.call(Method::GET, uri);
        request.token(token.as_deref()).send().await
    }

    async fn page(&self, uri: &str, user: Uuid) -> MessagePage {
        serde_json::from_value(self.get(uri, Some(user)).await.ok()).unwrap()
    }

    /// A confirmed order and its refund for `user`: two messages.
    async fn two_messages(&self, user: Uuid) {
        let order = confirmed(user, Uuid::new_v4());
        apply(&self.routes.state, &order).await;
        apply(&self.routes.state, &refunded(order.order_id, 500)).await;
    }
}

#[tokio::test]
async fn a_shopper_reads_their_own_messages_newest_first() {
    let app = App::new().await;
    let (ada, bob) = (Uuid::new_v4(), Uuid::new_v4());
    app.two_messages(ada).await;
    app.two_messages(bob).await;
    let page = app.page("/v1/messages", ada).await;
    assert_eq!((page.page, page.page_size, page.total), (1, 20, 2));
    assert!(page.items.iter().all(|m| m.user_id == ada));
    assert_eq!(
        page.items[0].kind,
        notifications_api::MessageKind::PaymentRefunded
    );
    let second = app.page("/v1/messages?page=2&page_size=1", ada).await;
    assert_eq!(second.items, page.items[1..]);

    let id = page.items[0].id;
    let one: Message =
        serde_json::from_value(app.get(&format!("/v1/messages/{id}"), Some(ada)).await.ok())
            .unwrap();
    assert_eq!(one, page.items[0]);
    // Another shopper's message is answered as an absent one.
    app.get(&format!("/v1/messages/{id}"), Some(bob))
        .await
        .problem(StatusCode::NOT_FOUND, "not-found", "no message");
    app.get(&format!("/v1/messages/{}", Uuid::new_v4()), Some(ada))
        .await
        .problem(StatusCode::NOT_FOUND, "not-found", "no message");
}

#[tokio::test]
async fn bad_input_and_missing_tokens_are_refused_with_problems() {
    let app = App::new().await;
    let user = Some(Uuid::new_v4());
    app.get("/v1/messages?page=0", user)
        .await
        .invalid("page", "1 or more");
    app.get("/v1/messages?page_size=101", user)
        .await
        .invalid("page_size", "between 1 and 100");
    app.get("/v1/messages/latest", user)
        .await
        .invalid("id", "not a message id");
    let unknown = app.get("/v1/messages?sort=new", user).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{unknown:?}");
    assert_eq!(unknown.content_type, "application/problem+json");
    for uri in ["/v1/messages", "/v1/messages/latest"] {
        let answer = app.get(uri, None).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
        assert_eq!(answer.content_type, "application/problem+json");
    }
}

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes_served() {
    let app = App::new().await;
    assert_openapi_covers(app.routes.router(), OPERATIONS).await;
    assert_eq!(
        notifications_api::paths::MESSAGE_PATTERN,
        "/v1/messages/{id}"
    );
    let user = Some(Uuid::new_v4());
    assert_eq!(app.get("/v1/messages", user).await.status, StatusCode::OK);
}
