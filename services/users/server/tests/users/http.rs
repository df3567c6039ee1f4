//! Every route in process, through the same middleware as a running instance, against both
//! backends: the happy paths, and bad input on every route answered with a 4xx problem that says
//! what was wrong.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use brigade_chassis::auth::Verifier;
use brigade_chassis::db::Db;
use brigade_chassis::events::Outbox;
use brigade_chassis::testing::{self, assert_openapi_covers, texts, JsonAnswer, TestApp};
use serde_json::{json, Value};
use users::{App, Clock, Config};

use crate::support::{execute, kid, migrated, second_pool};

/// The operations the service documents besides its document's own route.
const OPERATIONS: &[&str] = &[
    "GET /v1/jwks",
    "POST /v1/keys/rotate",
    "GET /v1/me",
    "POST /v1/sessions",
    "POST /v1/users",
];

brigade_chassis::store_suite!(
    sign_up_log_in_and_me,
    a_taken_email_is_a_conflict_whatever_its_case,
    two_sign_ups_of_one_email_at_once_get_one_201,
    wrong_password_and_unknown_email_get_the_same_answer,
    mass_assignment_of_an_accounts_id_or_hash_is_refused,
    a_failing_store_answers_500_with_nothing_of_its_error,
    me_needs_a_valid_token_of_an_existing_account,
    rotating_logs_nobody_out,
    bad_input_on_every_route_is_a_4xx_problem,
    the_openapi_document_describes_exactly_the_routes_served,
);

/// The users routes over a store: the [`TestApp`] calls, and a shopper's steps.
struct UsersApp {
    app: TestApp,
}

impl std::ops::Deref for UsersApp {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl UsersApp {
    async fn new(db: Db) -> UsersApp {
        let db = migrated(db).await;
        UsersApp::on(db).await
    }

    /// An app on a store that is already migrated.
    async fn on(db: Db) -> UsersApp {
        let app = App::start(db, Outbox::new(), &Config::default(), Clock::system())
            .await
            .unwrap();
        UsersApp {
            app: TestApp::new(users::router(app)),
        }
    }

    async fn get(&self, uri: &str, token: Option<&str>) -> JsonAnswer {
        self.app.call(Method::GET, uri).token(token).send().await
    }

    async fn sign_up(&self, email: &str, password: &str) -> JsonAnswer {
        self.post(
            "/v1/users",
            json!({"email": email, "password": password, "name": "Ada Lovelace"}),
        )
        .await
    }

    async fn log_in(&self, email: &str, password: &str) -> JsonAnswer {
        self.post(
            "/v1/sessions",
            json!({"email": email, "password": password}),
        )
        .await
    }

    /// A token for `email`/`password`, which must be right.
    async fn token(&self, email: &str, password: &str) -> String {
        let session = self.log_in(email, password).await.ok();
        session["access_token"].as_str().unwrap().to_owned()
    }
}

/// Asserts a 401 `unauthorized` problem that tells the client how to authenticate.
fn unauthorized(answer: &JsonAnswer, detail: &str) {
    answer.problem(StatusCode::UNAUTHORIZED, "unauthorized", detail);
    assert!(
        answer.headers.contains_key(header::WWW_AUTHENTICATE),
        "{answer:?}"
    );
}

const PASSWORD: &str = "correct horse battery";

async fn sign_up_log_in_and_me(db: Db) {
    let app = UsersApp::new(db).await;
    let user = app
        .post(
            "/v1/users",
            json!({"email": "  Ada@Example.com ", "password": PASSWORD, "name": " Ada Lovelace "}),
        )
        .await
        .with_status(StatusCode::CREATED);
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["name"], "Ada Lovelace");
    assert!(user["created_at_ms"].as_u64().unwrap() > 1_700_000_000_000);
    assert!(user.get("password_hash").is_none() && user.get("password").is_none());

    // The email is matched however it is typed.
    let session = app.log_in("ADA@example.com ", PASSWORD).await.ok();
    assert_eq!(session["token_type"], "Bearer");
    assert_eq!(session["expires_in"], 15 * 60);
    let token = session["access_token"].as_str().unwrap();

    let me = app.get("/v1/me", Some(token)).await.ok();
    assert_eq!(me, user);

    // The token verifies with the published keys, as other services check it.
    let jwks: users_api::JwkSet =
        serde_json::from_value(app.get("/v1/jwks", None).await.ok()).unwrap();
    let claims = Verifier::from_jwks(&jwks)
        .unwrap()
        .verify(token)
        .await
        .unwrap();
    assert_eq!(claims.sub.to_string(), user["id"].as_str().unwrap());
    assert_eq!(claims.email, "ada@example.com");
    assert_eq!(claims.exp - claims.iat, 15 * 60);
}

async fn a_taken_email_is_a_conflict_whatever_its_case(db: Db) {
    let app = UsersApp::new(db).await;
    app.sign_up("ada@example.com", PASSWORD)
        .await
        .with_status(StatusCode::CREATED);
    for email in ["ada@example.com", " ADA@Example.COM"] {
        let again = app.sign_up(email, "another password").await;
        again.problem(StatusCode::CONFLICT, "email-taken", "already exists");
        assert_eq!(again.body["parameter"], "email");
    }
    // The first password still works; the second never took.
    app.token("ada@example.com", PASSWORD).await;
    app.log_in("ada@example.com", "another password")
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid-credentials", "wrong");
}

async fn two_sign_ups_of_one_email_at_once_get_one_201(db: Db) {
    let db = migrated(db).await;
    let other = second_pool(&db).await;
    // Two instances of the service on one store.
    let a = UsersApp::on(db).await;
    let b = UsersApp::on(other).await;
    for round in 0..3 {
        let email = format!("race{round}@example.com");
        let (x, y) = tokio::join!(a.sign_up(&email, PASSWORD), b.sign_up(&email, PASSWORD));
        let mut statuses = [x.status, y.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::CREATED, StatusCode::CONFLICT],
            "{x:?} {y:?}"
        );
    }
}

async fn wrong_password_and_unknown_email_get_the_same_answer(db: Db) {
    let app = UsersApp::new(db).await;
    app.sign_up("ada@example.com", PASSWORD)
        .await
        .with_status(StatusCode::CREATED);
    let wrong_password = app.log_in("ada@example.com", "not the password").await;
    let unknown_email = app.log_in("bob@example.com", PASSWORD).await;
    for answer in [&wrong_password, &unknown_email] {
        answer.problem(
            StatusCode::UNAUTHORIZED,
            "invalid-credentials",
            "the email or the password is wrong",
        );
    }
    let strip = |body: &Value| {
        let mut body = body.clone();
        body.as_object_mut().unwrap().remove("trace_id");
        body
    };
    assert_eq!(strip(&wrong_password.body), strip(&unknown_email.body));
}

/// OWASP API3 (property-level authorization): a sign-up naming the members the service sets
/// itself (the id, the hash, the creation time) is refused whole, never half-applied.
async fn mass_assignment_of_an_accounts_id_or_hash_is_refused(db: Db) {
    let app = UsersApp::new(db).await;
    let chosen_id = "00000000-0000-4000-8000-000000000001";
    for (member, value) in [
        ("id", json!(chosen_id)),
        (
            "password_hash",
            json!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"),
        ),
        ("created_at_ms", json!(0)),
        ("is_admin", json!(true)),
    ] {
        let mut body = json!({"email": "eve@example.com", "password": PASSWORD, "name": "Eve"});
        body[member] = value;
        let answer = app.post("/v1/users", body).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{member}: {answer:?}"
        );
        assert_eq!(answer.body["type"], "urn:brigade:problem:invalid-body");
    }
    // None of them made the account: it can still be signed up, with an id of the service's.
    let user = app
        .sign_up("eve@example.com", PASSWORD)
        .await
        .with_status(StatusCode::CREATED);
    assert_ne!(user["id"], chosen_id);
}

/// OWASP API8 (misconfiguration): a store that fails answers a 500 whose detail says nothing of
/// the store (no SQL, no table, no driver message); the cause goes to the log only.
async fn a_failing_store_answers_500_with_nothing_of_its_error(db: Db) {
    let db = migrated(db).await;
    let app = UsersApp::on(db.clone()).await;
    execute(&db, "DROP TABLE users").await;
    for answer in [
        app.log_in("ada@example.com", PASSWORD).await,
        app.sign_up("ada@example.com", PASSWORD).await,
    ] {
        assert_eq!(
            answer.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{answer:?}"
        );
        assert_eq!(answer.content_type, "application/problem+json");
        let text = answer.body.to_string().to_lowercase();
        for internal in [
            "users", "table", "sql", "select", "insert", "relation", "no such", "sqlx", "database",
        ] {
            assert!(!text.contains(internal), "`{internal}` leaked: {text}");
        }
    }
}

async fn me_needs_a_valid_token_of_an_existing_account(db: Db) {
    let db = migrated(db).await;
    let app = UsersApp::on(db.clone()).await;
    unauthorized(&app.get("/v1/me", None).await, "sign in first");
    unauthorized(&app.get("/v1/me", Some("not-a-token")).await, "invalid");
    // A token signed by a key this service never published.
    let foreign = testing::TestKeys::new().token(uuid::Uuid::new_v4(), "ada@example.com");
    unauthorized(
        &app.get("/v1/me", Some(&foreign)).await,
        "not signed by a current key",
    );
    let basic = Request::get("/v1/me")
        .header(header::AUTHORIZATION, "Basic YWRhOnB3")
        .body(Body::empty())
        .unwrap();
    unauthorized(&app.send(basic).await, "Bearer");

    app.sign_up("ada@example.com", PASSWORD)
        .await
        .with_status(StatusCode::CREATED);
    let token = app.token("ada@example.com", PASSWORD).await;
    app.get("/v1/me", Some(&token)).await.ok();
    // A tampered token (another subject, same signature) is refused.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].chars().rev().collect();
    unauthorized(&app.get("/v1/me", Some(&parts.join("."))).await, "invalid");
    // The account goes away: its still-valid token no longer opens /v1/me.
    execute(&db, "DELETE FROM users").await;
    unauthorized(&app.get("/v1/me", Some(&token)).await, "no longer exists");
}

async fn rotating_logs_nobody_out(db: Db) {
    let app = UsersApp::new(db).await;
    app.sign_up("ada@example.com", PASSWORD)
        .await
        .with_status(StatusCode::CREATED);
    let old_token = app.token("ada@example.com", PASSWORD).await;
    let rotated = app
        .raw(Method::POST, "/v1/keys/rotate", "application/json", "")
        .await
        .ok();
    let new_kid = rotated["kid"].as_str().unwrap();
    assert_ne!(new_kid, kid(&old_token));

    let new_token = app.token("ada@example.com", PASSWORD).await;
    assert_eq!(kid(&new_token), new_kid);
    let jwks = app.get("/v1/jwks", None).await.ok();
    let published: Vec<&str> = texts(&jwks["keys"], "kid");
    assert_eq!(published, [new_kid, kid(&old_token).as_str()]);
    for key in jwks["keys"].as_array().unwrap() {
        assert_eq!(key["kty"], "OKP");
        assert_eq!(key["crv"], "Ed25519");
        assert!(key.get("d").is_none(), "private material published: {key}");
    }
    app.get("/v1/me", Some(&old_token)).await.ok();
    app.get("/v1/me", Some(&new_token)).await.ok();
}

async fn bad_input_on_every_route_is_a_4xx_problem(db: Db) {
    let app = UsersApp::new(db).await;
    let sign_up = |email: &str, password: &str, name: &str| json!({"email": email, "password": password, "name": name});
    for (body, field, detail) in [
        (sign_up("", PASSWORD, "Ada"), "email", "must not be empty"),
        (sign_up("ada.example.com", PASSWORD, "Ada"), "email", "@"),
        (sign_up("ada@localhost", PASSWORD, "Ada"), "email", "domain"),
        (
            sign_up("ada@exa mple.com", PASSWORD, "Ada"),
            "email",
            "spaces",
        ),
        (
            sign_up(&format!("{}@example.com", "a".repeat(250)), PASSWORD, "Ada"),
            "email",
            "at most 254",
        ),
        (
            sign_up("ada@example.com", "short", "Ada"),
            "password",
            "10 to 128",
        ),
        (
            sign_up("ada@example.com", &"p".repeat(129), "Ada"),
            "password",
            "10 to 128",
        ),
        (
            sign_up("ada@example.com", "Ada@Example.com", "Ada"),
            "password",
            "not be the email",
        ),
        (
            sign_up("ada@example.com", PASSWORD, "  "),
            "name",
            "1 to 100",
        ),
        (
            sign_up("ada@example.com", PASSWORD, &"n".repeat(101)),
            "name",
            "1 to 100",
        ),
    ] {
        app.post("/v1/users", body).await.invalid(field, detail);
    }
    for body in [
        json!({"email": "ada@example.com", "password": PASSWORD}),
        json!({"email": "ada@example.com", "password": PASSWORD, "name": "Ada", "admin": true}),
        json!({"email": 7, "password": PASSWORD, "name": "Ada"}),
        json!([]),
    ] {
        app.post("/v1/users", body).await.problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "",
        );
    }
    app.raw(Method::POST, "/v1/users", "application/json", "{not json")
        .await
        .problem(StatusCode::BAD_REQUEST, "bad-request", "not valid JSON");
    app.raw(Method::POST, "/v1/users", "text/plain", "hello")
        .await
        .problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "JSON",
        );
    let huge =
        json!({"email": "ada@example.com", "password": PASSWORD, "name": "x".repeat(20_000)});
    app.post("/v1/users", huge).await.problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        "larger",
    );
    app.post(
        "/v1/users?admin=true",
        sign_up("ada@example.com", PASSWORD, "Ada"),
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "invalid-query", "admin");
    app.get("/v1/users", None).await.problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "",
    );
    // Nothing was written by any of it.
    app.log_in("ada@example.com", PASSWORD).await.problem(
        StatusCode::UNAUTHORIZED,
        "invalid-credentials",
        "wrong",
    );

    // Log-in.
    app.post("/v1/sessions", json!({"email": " ", "password": PASSWORD}))
        .await
        .invalid("email", "must not be empty");
    app.post(
        "/v1/sessions",
        json!({"email": "ada@example.com", "password": ""}),
    )
    .await
    .invalid("password", "must not be empty");
    app.post(
        "/v1/sessions",
        json!({"email": "ada@example.com", "password": "p".repeat(129)}),
    )
    .await
    .invalid("password", "at most 128");
    app.post("/v1/sessions", json!({"email": "ada@example.com"}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body", "password");
    app.raw(Method::POST, "/v1/sessions", "application/json", "")
        .await
        .problem(StatusCode::BAD_REQUEST, "bad-request", "");
    app.get("/v1/sessions", None).await.problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "",
    );

    // The routes that take no parameters refuse them.
    for uri in ["/v1/me?user=1", "/v1/jwks?kid=1"] {
        app.get(uri, None)
            .await
            .problem(StatusCode::BAD_REQUEST, "invalid-query", "");
    }
    app.raw(
        Method::POST,
        "/v1/keys/rotate?now=1",
        "application/json",
        "",
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "invalid-query", "now");
    app.get("/v1/keys/rotate", None).await.problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "",
    );
    app.post("/v1/jwks", json!({})).await.problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "",
    );
}

async fn the_openapi_document_describes_exactly_the_routes_served(db: Db) {
    let app = UsersApp::new(db).await;
    let document = assert_openapi_covers(app.app.router(), OPERATIONS).await;
    // The paths the client uses are the documented ones.
    for path in [
        users_api::paths::USERS,
        users_api::paths::SESSIONS,
        users_api::paths::ME,
        users_api::paths::JWKS,
        users_api::paths::ROTATE_KEYS,
        brigade_chassis::routes::OPENAPI,
    ] {
        assert!(document["paths"].get(path).is_some(), "{path}");
    }
}

/// Rotating the keys that sign every shopper's token is an operator's act.
#[tokio::test]
async fn only_an_operator_rotates_the_keys() {
    let (db, _dir) = brigade_chassis::testing::sqlite_db().await;
    let app = UsersApp::new(db).await;
    app.call(Method::POST, "/v1/keys/rotate")
        .without_identity()
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED, "identity-required", "identity");
    app.call(Method::POST, "/v1/keys/rotate")
        .caller("gateway")
        .send()
        .await
        .problem(StatusCode::FORBIDDEN, "caller-not-accepted", "gateway");
    app.call(Method::POST, "/v1/keys/rotate")
        .caller(brigade_chassis::identity::OPERATOR)
        .send()
        .await
        .with_status(StatusCode::OK);
}
