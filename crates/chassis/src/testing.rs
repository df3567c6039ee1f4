//! Helpers for testing services built on the chassis (feature `testing`).
//!
//! PostgreSQL tests: [`postgres_db`] creates a fresh database per test on the server named by
//! `BRIGADE_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`). When the
//! server cannot be reached the test is skipped with a message, unless `CI=true`, where a
//! missing backend is a failure: CI must test what it claims to test.
//!
//! DNS discovery tests: [`dns::FakeDns`], a DNS server whose records the test changes.
//!
//! Browser tests: [`chromium`] (chromedriver and headless Chromium, skipped the same way) over
//! [`webdriver`] (the protocol's few calls).

use axum::Router;
use sqlx::Executor;

use crate::db::{Db, PoolOptions};
use crate::http::{self, Limits};
use crate::metrics::Metrics;

/// `router` wrapped in the same middleware a running service has, its callers' identities
/// checked by the [`Harness`] (as the service [`HARNESS_AUDIENCE`]).
pub fn app(router: Router) -> Router {
    let metrics = Metrics::new();
    let guard = Harness::get().guard(HARNESS_AUDIENCE, &metrics);
    http::wrap(router, metrics, Limits::default()).layer(axum::Extension(guard))
}

/// The service name a [`TestApp`]'s routes are checked as (the audience of tokens for it).
pub const HARNESS_AUDIENCE: &str = "service-under-test";

pub use crate::authority::{Harness, HARNESS};

/// Service arguments as if given on the command line (no environment is read for the flags given).
pub fn service_args(flags: &[&str]) -> crate::service::ServiceArgs {
    #[derive(clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        service: crate::service::ServiceArgs,
    }
    let argv = std::iter::once("test").chain(flags.iter().copied());
    let args = <Wrapper as clap::Parser>::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("invalid test flags {flags:?}: {e}"))
        .service;
    harness_identity(args, flags)
}

/// Service `S`'s own flags as its command line gives them from `flags` (what follows the
/// binary's name), or `None` when the command line is refused.
pub fn own_args<S: crate::service::Service>(flags: &[&str]) -> Option<S::Args> {
    let argv = std::iter::once(S::BINARY).chain(flags.iter().copied());
    <crate::service::Flags<S> as clap::Parser>::try_parse_from(argv)
        .ok()
        .map(|parsed| parsed.own)
}

/// A listener on a free loopback port, and its address.
pub async fn loopback_listener() -> (tokio::net::TcpListener, std::net::SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("cannot bind a test listener: {e}"));
    let address = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("test listener has no address: {e}"));
    (listener, address)
}

/// Serves `router` on a free loopback port for the rest of the test; gives its address.
pub async fn serve_in_background(router: Router) -> std::net::SocketAddr {
    let (listener, address) = loopback_listener().await;
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

/// A fresh SQLite store in a temporary directory (kept alive by the returned guard).
pub async fn sqlite_db() -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temp dir: {e}"));
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let db = Db::connect(&url, &PoolOptions::default())
        .await
        .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    (db, dir)
}

/// The URL of the PostgreSQL server the tests use.
pub fn postgres_admin_url() -> String {
    std::env::var("BRIGADE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// True when tests must not skip a missing backend.
pub fn required_backends() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The PostgreSQL server the tests use, when it answers; `None` (skipped, with a message)
/// when it does not, outside CI.
pub async fn postgres_server() -> Option<crate::db::provision::PostgresServer> {
    let url = postgres_admin_url();
    let server = crate::db::provision::PostgresServer::parse(&url)
        .unwrap_or_else(|e| panic!("BRIGADE_TEST_POSTGRES_URL: {e}"));
    match server.admin().await {
        Ok(admin) => {
            admin.close().await;
            Some(server)
        }
        Err(e) if required_backends() => panic!("CI=true but {e}"),
        Err(e) => {
            eprintln!("skipped: {e}; set CI=true to require it");
            None
        }
    }
}

/// A fresh, empty PostgreSQL database for one test, or `None` (skipped) when PostgreSQL is not
/// reachable outside CI.
pub async fn postgres_db() -> Option<Db> {
    let admin_url = postgres_admin_url();
    let admin = match Db::connect(
        &admin_url,
        &PoolOptions {
            max_connections: 1,
            ..PoolOptions::default()
        },
    )
    .await
    {
        Ok(Db::Postgres(pool)) => pool,
        Ok(_) => panic!("BRIGADE_TEST_POSTGRES_URL must be a postgres:// URL"),
        Err(e) if required_backends() => {
            panic!("CI=true but PostgreSQL is not reachable at {admin_url}: {e}")
        }
        Err(e) => {
            eprintln!(
                "skipped: PostgreSQL not reachable at {admin_url} ({e}); set CI=true to require it"
            );
            return None;
        }
    };
    drop_stale_databases(&admin).await;
    let name = format!(
        "brigade_test_{}_{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
    admin.close().await;
    let url = crate::db::provision::PostgresServer::parse(&admin_url)
        .unwrap_or_else(|e| panic!("BRIGADE_TEST_POSTGRES_URL: {e}"))
        .database_url(&name);
    Some(
        Db::connect(&url, &PoolOptions::default())
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test database {name}: {e}")),
    )
}

/// Test databases are named after the process that made them; drop those whose process is gone.
async fn drop_stale_databases(admin: &sqlx::PgPool) {
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'brigade_test_%'")
            .fetch_all(admin)
            .await
            .unwrap_or_default();
    for (name,) in names {
        let pid = name
            .strip_prefix("brigade_test_")
            .and_then(|rest| rest.split('_').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                let _ = admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await;
            }
        }
    }
}

/// A service instance serving on a real loopback socket inside the test process, started the
/// way `main` starts one ([`crate::service::serve`]), so that tests exercise the whole chassis.
pub struct Instance {
    pub address: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), crate::service::Error>>,
}

/// A client of `service` that finds it at `addresses` (static discovery), with `options`.
pub fn static_client_with(
    service: &str,
    addresses: Vec<std::net::SocketAddr>,
    options: crate::client::Options,
) -> crate::client::ServiceClient {
    static_client_presenting_nothing(service, addresses, options)
        .with_identity(Harness::get().presenter(HARNESS))
}

fn static_client_presenting_nothing(
    service: &str,
    addresses: Vec<std::net::SocketAddr>,
    options: crate::client::Options,
) -> crate::client::ServiceClient {
    let peers = std::collections::HashMap::from([(service.to_owned(), addresses)]);
    crate::client::ServiceClient::new(
        service,
        crate::discovery::Resolver::new(crate::discovery::Source::Static(peers)),
        Metrics::new().client.clone(),
        options,
    )
}

/// GET `url` of an instance of `service` as the [`Harness`] (its identity token for `service`
/// in the request) with the plain client, and decode the 2xx JSON answer: how a test reads a
/// protected route (an event feed) the way a permitted caller would.
pub async fn harness_get_json<T: serde::de::DeserializeOwned>(
    service: &str,
    url: &str,
) -> Result<T, crate::plain::Error> {
    harness_request(service, ::http::Method::GET, url, None).await
}

/// Sends `body` as JSON to `url` of an instance of `service` as the [`Harness`] and decodes the
/// 2xx JSON answer: how a test sets up state through a protected route (stock levels) or reads
/// one (charges) the way an operator would.
pub async fn harness_send_json<B: serde::Serialize, T: serde::de::DeserializeOwned>(
    service: &str,
    method: ::http::Method,
    url: &str,
    body: &B,
) -> Result<T, crate::plain::Error> {
    let body = serde_json::to_vec(body).map_err(crate::plain::Error::Encode)?;
    harness_request(service, method, url, Some(body)).await
}

async fn harness_request<T: serde::de::DeserializeOwned>(
    service: &str,
    method: ::http::Method,
    url: &str,
    body: Option<Vec<u8>>,
) -> Result<T, crate::plain::Error> {
    let mut request = ::http::Request::builder().method(method).uri(url).header(
        crate::identity::HEADER,
        Harness::get().token(HARNESS, service),
    );
    if body.is_some() {
        request = request.header(::http::header::CONTENT_TYPE, "application/json");
    }
    let request = request
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.unwrap_or_default(),
        )))
        .map_err(|e| crate::plain::Error::InvalidUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
    let answer = crate::plain::PlainClient::new(std::time::Duration::from_secs(10))
        .send_request(request)
        .await?;
    if !answer.status.is_success() {
        return Err(crate::plain::Error::Status {
            url: url.to_owned(),
            status: answer.status,
            body: String::from_utf8_lossy(&answer.body).into_owned(),
        });
    }
    serde_json::from_slice(&answer.body).map_err(|source| crate::plain::Error::Decode {
        url: url.to_owned(),
        source,
    })
}

/// A client of `service` at `addresses` that calls as `caller` (a service name, or
/// [`crate::identity::OPERATOR`]): how a test sees what a route answers a given caller.
pub fn static_client_as(
    service: &str,
    addresses: Vec<std::net::SocketAddr>,
    caller: &str,
) -> crate::client::ServiceClient {
    static_client_without_identity(service, addresses)
        .with_identity(Harness::get().presenter(caller))
}

/// A client of `service` at `addresses` that presents no identity at all.
pub fn static_client_without_identity(
    service: &str,
    addresses: Vec<std::net::SocketAddr>,
) -> crate::client::ServiceClient {
    static_client_presenting_nothing(service, addresses, crate::client::Options::default())
}

/// [`static_client_with`] with the default options.
pub fn static_client(
    service: &str,
    addresses: Vec<std::net::SocketAddr>,
) -> crate::client::ServiceClient {
    static_client_with(service, addresses, crate::client::Options::default())
}

/// Where `instances` listen, to give a [`static_client`].
pub fn addresses(instances: &[&Instance]) -> Vec<std::net::SocketAddr> {
    instances.iter().map(|i| i.address).collect()
}

/// `args` with the [`Harness`]'s identity, unless `given` flags chose one (`--identity dev`, or
/// `--identity auto` to see an instance refuse to start without one).
fn harness_identity(
    mut args: crate::service::ServiceArgs,
    given: &[&str],
) -> crate::service::ServiceArgs {
    if !given.iter().any(|f| f.starts_with("--identity")) {
        args.identity = crate::service::IdentityMode::Harness;
    }
    args
}

/// What every test instance is started with unless its flags say otherwise: quiet logs, and no
/// pause between deregistering and stopping (nobody watches a test's registry).
const QUIET: [&str; 4] = ["--log", "warn", "--deregister-delay", "0ms"];

impl Instance {
    /// Starts service `S` with `flags` (the chassis' and the service's own, as on its command
    /// line; quiet logs and no deregistration delay unless overridden) exactly as its `main`
    /// does, and waits until it answers `/readyz` with 200.
    pub async fn start<S: crate::service::Service>(flags: &[&str]) -> Instance {
        use clap::Parser;
        let argv = std::iter::once(S::BINARY)
            .chain(QUIET)
            .chain(flags.iter().copied());
        let given = flags;
        let flags = crate::service::Flags::<S>::try_parse_from(argv)
            .unwrap_or_else(|e| panic!("invalid test flags {flags:?}: {e}"));
        let own = flags.own;
        let service = harness_identity(flags.service, given);
        Instance::start_with(S::INFO, service, move |ctx| {
            crate::service::build::<S>(ctx, own)
        })
        .await
    }

    /// Starts `info` with `flags` (quiet logs and no deregistration delay unless overridden)
    /// and `build` (a service made up by the test), and waits until it answers `/readyz`.
    pub async fn start_custom<B, F>(
        info: crate::service::ServiceInfo,
        flags: &[&str],
        build: B,
    ) -> Instance
    where
        B: FnOnce(crate::service::Context) -> F + Send + 'static,
        F: std::future::Future<Output = Result<Router, crate::BoxError>> + Send + 'static,
    {
        let mut all = QUIET.to_vec();
        all.extend_from_slice(flags);
        let args = service_args(&all);
        Instance::start_with(info, args, build).await
    }

    async fn start_with<B, F>(
        info: crate::service::ServiceInfo,
        args: crate::service::ServiceArgs,
        build: B,
    ) -> Instance
    where
        B: FnOnce(crate::service::Context) -> F + Send + 'static,
        F: std::future::Future<Output = Result<Router, crate::BoxError>> + Send + 'static,
    {
        let (listener, address) = loopback_listener().await;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(crate::service::serve(
            info,
            args,
            listener,
            build,
            async move {
                let _ = stopped.await;
                crate::shutdown::Reason::Requested
            },
        ));
        let instance = Instance {
            address,
            stop: Some(stop),
            task,
        };
        instance.wait_ready().await;
        instance
    }

    /// The instance's base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// What the instance's `/metrics` answers: its metrics as Prometheus text.
    pub async fn metrics(&self) -> String {
        let answer = crate::plain::PlainClient::new(std::time::Duration::from_secs(2))
            .send(
                ::http::Method::GET,
                &format!("{}/metrics", self.url()),
                None,
            )
            .await
            .unwrap_or_else(|e| panic!("cannot read the metrics of {}: {e}", self.address));
        String::from_utf8_lossy(&answer.body).into_owned()
    }

    async fn wait_ready(&self) {
        let client = crate::plain::PlainClient::new(std::time::Duration::from_secs(1));
        let url = format!("{}/readyz", self.url());
        for _ in 0..500 {
            if self.task.is_finished() {
                panic!("the {} instance stopped before it was ready", self.address);
            }
            if let Ok(answer) = client.send(::http::Method::GET, &url, None).await {
                if answer.status.is_success() {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!(
            "the instance at {} did not become ready in 10 s",
            self.address
        );
    }

    /// Asks the instance to shut down gracefully and waits until it has; an error when it could
    /// not, or when background tasks were still running past the shutdown grace
    /// ([`crate::service::Error::Lingering`] names them).
    pub async fn stop(mut self) -> Result<(), crate::service::Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => panic!("the instance task failed: {e}"),
        }
    }

    /// Stops the instance and fails the test unless it left cleanly within `bound`: drained,
    /// every background task ended, its stores closed.
    pub async fn assert_stops_within(self, bound: std::time::Duration) {
        let address = self.address;
        match tokio::time::timeout(bound, self.stop()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("the instance at {address} did not stop cleanly: {e}"),
            Err(_) => panic!("the instance at {address} did not stop within {bound:?}"),
        }
    }
}

/// Starts service `S` with `flags` over a store of its own in a temporary directory, and fails
/// the test unless it stops cleanly within two seconds once asked: its server drained and every
/// background task it started (relays, consumers, periodic passes) ended.
pub async fn assert_stops_promptly<S: crate::service::Service>(flags: &[&str]) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temp dir: {e}"));
    let data_dir = dir.path().display().to_string();
    let mut all = vec!["--data-dir", data_dir.as_str()];
    all.extend_from_slice(flags);
    let instance = Instance::start::<S>(&all).await;
    instance
        .assert_stops_within(std::time::Duration::from_secs(2))
        .await;
}

/// A signing key for tests, and a JWKS file that services started with `--jwks-file` trust.
pub struct TestKeys {
    pub key: crate::auth::SigningKey,
    pub jwks_file: tempfile::NamedTempFile,
}

impl TestKeys {
    pub fn new() -> TestKeys {
        let key = crate::auth::SigningKey::generate("test-key")
            .unwrap_or_else(|e| panic!("cannot make a test key: {e}"));
        let jwks = serde_json::json!({ "keys": [key.public_jwk()] });
        let jwks_file = tempfile::NamedTempFile::new()
            .unwrap_or_else(|e| panic!("cannot create a JWKS file: {e}"));
        std::fs::write(jwks_file.path(), jwks.to_string())
            .unwrap_or_else(|e| panic!("cannot write the JWKS file: {e}"));
        TestKeys { key, jwks_file }
    }

    /// The path to pass as `--jwks-file`.
    pub fn jwks_path(&self) -> String {
        self.jwks_file.path().display().to_string()
    }

    /// A verifier trusting this key, for in-process routers.
    pub fn verifier(&self) -> crate::auth::Verifier {
        let jwks = jsonwebtoken::jwk::JwkSet {
            keys: vec![self.key.public_jwk().clone()],
        };
        crate::auth::Verifier::from_jwks(&jwks).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A valid access token for `user_id`, for an hour.
    pub fn token(&self, user_id: uuid::Uuid, email: &str) -> String {
        let claims = crate::auth::claims_for(user_id, email, std::time::Duration::from_secs(3600));
        self.key
            .sign(&claims)
            .unwrap_or_else(|e| panic!("cannot sign a test token: {e}"))
    }
}

impl Default for TestKeys {
    fn default() -> Self {
        TestKeys::new()
    }
}

/// Runs each named test (an `async fn(Db)` in the calling module) against a fresh SQLite store
/// and a fresh PostgreSQL database (skipped with a message when PostgreSQL is not reachable,
/// unless `CI=true`): `brigade_chassis::store_suite!(test_a, test_b);`.
#[macro_export]
macro_rules! store_suite {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let (db, _dir) = $crate::testing::sqlite_db().await;
                    super::$test(db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    if let Some(db) = $crate::testing::postgres_db().await {
                        super::$test(db).await;
                    }
                }
            )*
        }
    };
}

/// What a router answered, with its body read as JSON.
#[derive(Debug)]
pub struct JsonAnswer {
    pub status: ::http::StatusCode,
    pub headers: ::http::HeaderMap,
    /// The `content-type` header, empty when absent.
    pub content_type: String,
    pub body: serde_json::Value,
}

impl JsonAnswer {
    /// Reads `body` as the JSON answer to `target` (method and URI, for the panic message) of
    /// `status` with `headers`; panics when it is not JSON, which every Brigade route answers.
    fn read(
        target: &str,
        status: ::http::StatusCode,
        headers: ::http::HeaderMap,
        body: &[u8],
    ) -> JsonAnswer {
        let content_type = headers
            .get(::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = serde_json::from_slice(body).unwrap_or_else(|e| {
            panic!(
                "{target}: a {status} answer that is not JSON ({e}): {}",
                String::from_utf8_lossy(body)
            )
        });
        JsonAnswer {
            status,
            headers,
            content_type,
            body,
        }
    }

    /// Asserts a 200 JSON answer and gives its body.
    pub fn ok(self) -> serde_json::Value {
        self.with_status(::http::StatusCode::OK)
    }

    /// Asserts a JSON answer with `status` (e.g. a 201) and gives its body.
    pub fn with_status(self, status: ::http::StatusCode) -> serde_json::Value {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.content_type, "application/json", "{self:?}");
        self.body
    }

    /// The text of the header `name` (e.g. `location`, `www-authenticate`), if present.
    pub fn header(&self, name: impl ::http::header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json answer with `status` and `code` (the last part of its `type`),
    /// whose detail is not empty and mentions `detail`, and which carries the trace id; gives
    /// its body.
    pub fn problem(
        &self,
        status: ::http::StatusCode,
        code: &str,
        detail: &str,
    ) -> &serde_json::Value {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.content_type, crate::problem::CONTENT_TYPE, "{self:?}");
        assert_eq!(
            self.body["type"],
            format!("{}{code}", crate::problem::TYPE_PREFIX),
            "{self:?}"
        );
        assert_eq!(self.body["status"], status.as_u16(), "{self:?}");
        let text = self.body["detail"].as_str().unwrap_or_default();
        // A problem says what was wrong: an empty detail is a bug whatever `detail` is asked.
        assert!(!text.is_empty(), "a problem without a detail: {self:?}");
        assert!(
            text.contains(detail),
            "detail {text:?} should mention {detail:?}"
        );
        assert_eq!(
            self.body["trace_id"].as_str().map(str::len),
            Some(32),
            "{self:?}"
        );
        &self.body
    }

    /// Asserts a 400 `invalid-parameter` problem naming `parameter`.
    pub fn invalid(&self, parameter: &str, detail: &str) {
        let body = self.problem(::http::StatusCode::BAD_REQUEST, "invalid-parameter", detail);
        assert_eq!(body["parameter"], parameter, "{self:?}");
    }
}

/// The `field` of every item of the JSON array `items`, each a string: the ids, kinds or names
/// of a listing, in its order.
pub fn texts<'v>(items: &'v serde_json::Value, field: &str) -> Vec<&'v str> {
    let all = items
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {items}"));
    let text = |item: &'v serde_json::Value| {
        item[field]
            .as_str()
            .unwrap_or_else(|| panic!("no text {field} in {item}"))
    };
    all.iter().map(text).collect()
}

/// Sends `request` through `router` in process (as `tower::ServiceExt::oneshot` would) and reads
/// the answer; panics when the body is not JSON, which every Brigade route answers.
pub async fn send_json(router: &Router, request: ::http::Request<axum::body::Body>) -> JsonAnswer {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let target = format!("{} {}", request.method(), request.uri());
    let response = match router.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{target}: cannot read the answer: {e}"))
        .to_bytes();
    JsonAnswer::read(&target, parts.status, parts.headers, &bytes)
}

/// A router served in process inside the chassis' middleware, as a running instance serves it,
/// with one way to build and send the requests of every in-process HTTP test:
/// `app.call(Method::POST, "/v1/charges").token(Some(&token)).json(&body).send().await`.
#[derive(Clone)]
pub struct TestApp {
    router: Router,
}

impl TestApp {
    /// `router` (a service's business routes) wrapped in the chassis' middleware.
    pub fn new(router: Router) -> TestApp {
        TestApp {
            router: app(router),
        }
    }

    /// The wrapped router.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// A request to `uri` with `method`, to complete and [`TestRequest::send`].
    pub fn call(&self, method: ::http::Method, uri: &str) -> TestRequest<'_> {
        TestRequest {
            router: &self.router,
            request: ::http::Request::builder().method(method).uri(uri),
            body: axum::body::Body::empty(),
            identity: Some(Harness::get().token(HARNESS, HARNESS_AUDIENCE)),
        }
    }

    /// GET `uri`, read as JSON.
    pub async fn get(&self, uri: &str) -> JsonAnswer {
        self.call(::http::Method::GET, uri).send().await
    }

    /// POST `uri` with `body` as JSON.
    pub async fn post(&self, uri: &str, body: serde_json::Value) -> JsonAnswer {
        self.call(::http::Method::POST, uri)
            .json(&body)
            .send()
            .await
    }

    /// PUT `uri` with `body` as JSON.
    pub async fn put(&self, uri: &str, body: serde_json::Value) -> JsonAnswer {
        self.call(::http::Method::PUT, uri).json(&body).send().await
    }

    /// `method` on `uri` with `body` as it is, of `content_type` (none when empty): how a test
    /// sends what is not JSON, or not valid JSON.
    pub async fn raw(
        &self,
        method: ::http::Method,
        uri: &str,
        content_type: &str,
        body: impl Into<axum::body::Body>,
    ) -> JsonAnswer {
        self.call(method, uri).body(content_type, body).send().await
    }

    /// Sends a request built elsewhere.
    /// It is made by the harness unless it carries an identity of its own.
    pub async fn send(&self, mut request: ::http::Request<axum::body::Body>) -> JsonAnswer {
        if !request.headers().contains_key(crate::identity::HEADER) {
            let token = Harness::get().token(HARNESS, HARNESS_AUDIENCE);
            if let Ok(value) = ::http::HeaderValue::from_str(&token) {
                request.headers_mut().insert(crate::identity::HEADER, value);
            }
        }
        send_json(&self.router, request).await
    }
}

/// A service's routes served in process (a [`TestApp`], which it dereferences to) over a fresh
/// SQLite store in a temporary directory of its own, and `state`: what the test keeps of the
/// service to arrange and check what the routes cannot show (usually the router's state, its
/// store).
pub struct SqliteApp<S> {
    app: TestApp,
    pub state: S,
    _dir: tempfile::TempDir,
}

impl<S> SqliteApp<S> {
    /// Opens the fresh store, gives it to `state` (which migrates it, fills it, and makes what
    /// the test keeps), and serves the routes `router` makes of that state.
    pub async fn start<B, F>(state: B, router: impl FnOnce(&S) -> Router) -> SqliteApp<S>
    where
        B: FnOnce(Db) -> F,
        F: std::future::Future<Output = S>,
    {
        let (db, dir) = sqlite_db().await;
        let state = state(db).await;
        SqliteApp {
            app: TestApp::new(router(&state)),
            state,
            _dir: dir,
        }
    }
}

impl<S> std::ops::Deref for SqliteApp<S> {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

/// A request being built for a [`TestApp`] (or a bare router, [`TestRequest::to`]).
pub struct TestRequest<'a> {
    router: &'a Router,
    request: ::http::request::Builder,
    body: axum::body::Body,
    /// The calling service's identity token ([`crate::identity::HEADER`]), when there is one.
    identity: Option<String>,
}

impl<'a> TestRequest<'a> {
    /// A request to `uri` with `method` for `router` as it is (no middleware added).
    pub fn to(router: &'a Router, method: ::http::Method, uri: &str) -> TestRequest<'a> {
        TestRequest {
            router,
            request: ::http::Request::builder().method(method).uri(uri),
            body: axum::body::Body::empty(),
            // Made by the harness, as [`TestApp::call`]'s are, unless the test says otherwise.
            identity: Some(Harness::get().token(HARNESS, HARNESS_AUDIENCE)),
        }
    }

    /// Made by `caller` (a service name, or [`crate::identity::OPERATOR`]) rather than by the
    /// harness, whom every route accepts.
    pub fn caller(mut self, caller: &str) -> Self {
        self.identity = Some(Harness::get().token(caller, HARNESS_AUDIENCE));
        self
    }

    /// Made by nobody: without the calling service's identity.
    pub fn without_identity(mut self) -> Self {
        self.identity = None;
        self
    }

    /// With `identity` as the calling service's identity token, as it is (forged, expired…).
    pub fn identity_token(mut self, identity: &str) -> Self {
        self.identity = Some(identity.to_owned());
        self
    }

    /// With `Authorization: Bearer TOKEN` when there is a token.
    pub fn token(self, token: Option<&str>) -> Self {
        match token {
            Some(token) => self.header(::http::header::AUTHORIZATION, &format!("Bearer {token}")),
            None => self,
        }
    }

    /// With the `Idempotency-Key` header when there is a key.
    pub fn idempotency_key(self, key: Option<&str>) -> Self {
        match key {
            Some(key) => self.header(crate::context::IDEMPOTENCY_KEY_HEADER, key),
            None => self,
        }
    }

    /// With the header `name: value`.
    pub fn header(mut self, name: ::http::HeaderName, value: &str) -> Self {
        self.request = self.request.header(name, value);
        self
    }

    /// With `body` as its JSON body.
    pub fn json(self, body: &serde_json::Value) -> Self {
        self.body("application/json", body.to_string())
    }

    /// With `body` as its body, of `content_type` (none when empty).
    pub fn body(mut self, content_type: &str, body: impl Into<axum::body::Body>) -> Self {
        if !content_type.is_empty() {
            self.request = self
                .request
                .header(::http::header::CONTENT_TYPE, content_type);
        }
        self.body = body.into();
        self
    }

    /// Sends the request in process and reads the answer as JSON.
    pub async fn send(mut self) -> JsonAnswer {
        if let Some(identity) = &self.identity {
            self.request = self.request.header(crate::identity::HEADER, identity);
        }
        let request = self
            .request
            .body(self.body)
            .unwrap_or_else(|e| panic!("a test request that cannot be built: {e}"));
        send_json(self.router, request).await
    }
}

/// Sends `request` (its URI absolute, e.g. from [`Instance::url`]) over a real socket with the
/// chassis' plain client and reads the answer; panics when the call fails or the body is not
/// JSON.
pub async fn fetch_json(
    request: ::http::Request<http_body_util::Full<bytes::Bytes>>,
) -> JsonAnswer {
    let target = format!("{} {}", request.method(), request.uri());
    let answer = crate::plain::PlainClient::new(std::time::Duration::from_secs(10))
        .send_request(request)
        .await
        .unwrap_or_else(|e| panic!("{target}: {e}"));
    JsonAnswer::read(&target, answer.status, answer.headers, &answer.body)
}

/// The URL of the NATS server (with JetStream) the tests use.
pub fn nats_test_url() -> String {
    std::env::var("BRIGADE_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// The NATS URL when a server answers there, or `None` (skipped) outside CI. Each test should
/// use its own [`unique_namespace`] so that tests sharing the server never see each other's
/// streams.
pub async fn nats_url() -> Option<String> {
    let url = nats_test_url();
    let address = url
        .trim_start_matches("nats://")
        .trim_end_matches('/')
        .to_owned();
    let reachable = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        tokio::net::TcpStream::connect(address),
    )
    .await;
    match reachable {
        Ok(Ok(_)) => Some(url),
        Ok(Err(e)) if required_backends() => {
            panic!("CI=true but NATS is not reachable at {url}: {e}")
        }
        Err(_) if required_backends() => panic!("CI=true but NATS did not answer at {url}"),
        _ => {
            eprintln!("skipped: NATS not reachable at {url}; set CI=true to require it");
            None
        }
    }
}

/// A namespace for one test's JetStream streams.
pub fn unique_namespace(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// A producer's outbox feed (`GET /v1/events/feed`, the embedded transport's contract) on a
/// real socket, holding the envelopes a test pushes, positioned 1, 2, … in that order: a
/// consumer under test reads it as it would a real producer's.
#[derive(Clone)]
pub struct FakeFeed {
    events: std::sync::Arc<std::sync::Mutex<Vec<crate::events::Envelope>>>,
    caught_up: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub address: std::net::SocketAddr,
}

impl FakeFeed {
    pub async fn start() -> FakeFeed {
        let (listener, address) = loopback_listener().await;
        let feed = FakeFeed {
            events: Default::default(),
            caught_up: Default::default(),
            address,
        };
        let router = Router::new()
            .route(
                crate::routes::EVENTS_FEED,
                axum::routing::get(serve_fake_feed),
            )
            .with_state(feed.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        feed
    }

    pub fn push(&self, envelope: crate::events::Envelope) {
        if let Ok(mut events) = self.events.lock() {
            events.push(envelope);
        }
        self.caught_up.store(0, std::sync::atomic::Ordering::SeqCst);
    }

    /// Reads since the last push that found nothing new (consumers that have read everything).
    pub fn caught_up(&self) -> usize {
        self.caught_up.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn page(&self, after: i64, limit: i64) -> crate::events::FeedPage {
        let events = self.events.lock().map(|e| e.clone()).unwrap_or_default();
        let scanned_to = (events.len() as i64)
            .min(after.saturating_add(limit))
            .max(after);
        crate::events::FeedPage {
            last_position: events.len() as i64,
            scanned_to,
            events: events
                .into_iter()
                .enumerate()
                .map(|(i, event)| crate::events::FeedItem {
                    position: i as i64 + 1,
                    event,
                })
                .filter(|item| item.position > after)
                .take(usize::try_from(limit).unwrap_or(100))
                .collect(),
        }
    }
}

async fn serve_fake_feed(
    axum::extract::State(feed): axum::extract::State<FakeFeed>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::Json<crate::events::FeedPage> {
    // The fake serves every type: consumers must skip what they do not handle anyway.
    let number = |name: &str, default: i64| {
        query
            .get(name)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(default)
    };
    let (after, limit) = (number("after", 0), number("limit", 100));
    let first = feed.page(after, limit);
    if !first.events.is_empty() {
        return axum::Json(first);
    }
    feed.caught_up
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    // A short long poll, so that consumers do not spin.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    axum::Json(feed.page(after, limit))
}
pub mod chromium;
pub mod dns;
pub mod schema;
pub mod webdriver;

mod openapi;
pub use openapi::{assert_openapi_covers, assert_openapi_covers_at, documented_parameters};
