//! Real instances on real sockets, started the way `main` starts them, called through the typed
//! client; and a token checked the way every other service checks it: by a verifier that fetches
//! the JWKS from users through discovery.

use std::net::SocketAddr;
use std::time::Duration;

use brigade_chassis::auth::Verifier;
use brigade_chassis::client::ServiceClient;
use brigade_chassis::events::FeedPage;
use brigade_chassis::testing::{static_client, Instance};
use users_api::{LogIn, SignUp, UsersClient};

use crate::support::kid;

/// A chassis client for users, with `addresses` as its static peers.
fn users_client(addresses: Vec<SocketAddr>) -> ServiceClient {
    static_client("users", addresses)
}

async fn start(database_url: &str) -> Instance {
    Instance::start::<users::Users>(&["--database-url", database_url]).await
}

fn log_in() -> LogIn {
    LogIn {
        email: "ada@example.com".to_owned(),
        password: "correct horse battery".to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_service_verifies_tokens_across_a_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("users.db").display());
    let instance = start(&url).await;
    let users = UsersClient::new(users_client(vec![instance.address]));

    let user = users
        .sign_up(&SignUp {
            email: "Ada@Example.com".to_owned(),
            password: "correct horse battery".to_owned(),
            name: "Ada Lovelace".to_owned(),
        })
        .await
        .unwrap();
    assert_eq!(user.email, "ada@example.com");
    let taken = users
        .sign_up(&SignUp {
            email: "ada@example.com".to_owned(),
            password: "another password".to_owned(),
            name: "Ada".to_owned(),
        })
        .await
        .unwrap_err()
        .to_problem();
    assert_eq!((taken.status, taken.code()), (409, "email-taken"));

    // The sign-up is announced on the instance's event feed (relayed from its outbox); the
    // refused one is not.
    let feed: FeedPage = brigade_chassis::testing::harness_get_json(
        "users",
        &format!("{}/v1/events/feed?wait_ms=5000", instance.url()),
    )
    .await
    .unwrap();
    let announced: Vec<_> = feed
        .events
        .iter()
        .map(|item| (item.event.event_type.as_str(), item.event.subject.clone()))
        .collect();
    assert_eq!(
        announced,
        [("brigade.users.UserRegistered", user.id.to_string())]
    );

    let wrong = users
        .log_in(&LogIn {
            password: "wrong password".to_owned(),
            ..log_in()
        })
        .await
        .unwrap_err()
        .to_problem();
    assert_eq!((wrong.status, wrong.code()), (401, "invalid-credentials"));

    let session = users.log_in(&log_in()).await.unwrap();
    assert_eq!(session.token_type, "Bearer");
    assert_eq!(users.me(&session.access_token).await.unwrap(), user);
    let bad = users.me("not-a-token").await.unwrap_err().to_problem();
    assert_eq!(bad.status, 401);

    // Another service's verifier, which fetches the keys from users as the chassis does.
    let verifier = Verifier::from_service(users_client(vec![instance.address]));
    let claims = verifier.verify(&session.access_token).await.unwrap();
    assert_eq!(claims.sub, user.id);

    let rotated = users.rotate_keys().await.unwrap();
    assert_ne!(rotated.kid, kid(&session.access_token));
    let jwks = users.jwks().await.unwrap();
    assert_eq!(jwks.keys.len(), 2);

    let fresh = users.log_in(&log_in()).await.unwrap();
    assert_eq!(kid(&fresh.access_token), rotated.kid);
    // The verifier fetches the keys again for the new key id (at most once a second, so wait
    // out the fetch it made a moment ago).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        verifier.verify(&fresh.access_token).await.unwrap().sub,
        user.id
    );
    // The token signed before the rotation still verifies: nobody was logged out.
    assert_eq!(
        verifier.verify(&session.access_token).await.unwrap().sub,
        user.id
    );
    assert_eq!(users.me(&session.access_token).await.unwrap(), user);
    assert_eq!(users.me(&fresh.access_token).await.unwrap(), user);

    instance.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_starting_at_once_on_one_store_sign_with_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("users.db").display());
    let (a, b) = tokio::join!(start(&url), start(&url));
    let a_client = UsersClient::new(users_client(vec![a.address]));
    let b_client = UsersClient::new(users_client(vec![b.address]));
    let (a_keys, b_keys) = (
        a_client.jwks().await.unwrap(),
        b_client.jwks().await.unwrap(),
    );
    assert_eq!(a_keys.keys.len(), 1);
    assert_eq!(a_keys, b_keys);

    // An account made through one instance logs in through the other, and either answers /me.
    a_client
        .sign_up(&SignUp {
            email: "ada@example.com".to_owned(),
            password: "correct horse battery".to_owned(),
            name: "Ada".to_owned(),
        })
        .await
        .unwrap();
    let session = b_client.log_in(&log_in()).await.unwrap();
    a_client.me(&session.access_token).await.unwrap();

    // A rotation through one instance: the other verifies the new key's tokens at once.
    let rotated = a_client.rotate_keys().await.unwrap();
    let fresh = a_client.log_in(&log_in()).await.unwrap();
    assert_eq!(kid(&fresh.access_token), rotated.kid);
    b_client.me(&fresh.access_token).await.unwrap();
    b_client.me(&session.access_token).await.unwrap();

    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

/// Shutdown waits for the background tasks: its relay and the key rotation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_stops_promptly_with_its_background_tasks() {
    brigade_chassis::testing::assert_stops_promptly::<users::Users>(&[]).await;
}
