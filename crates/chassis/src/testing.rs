//! Helpers for testing services built on the chassis (feature `testing`).
//!
//! PostgreSQL tests: [`postgres_db`] creates a fresh database per test on the server named by
//! `BRIGADE_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`). When the
//! server cannot be reached the test is skipped with a message, unless `CI=true`, where a
//! missing backend is a failure: CI must test what it claims to test.

use axum::Router;
use sqlx::Executor;

use crate::db::{Db, PoolOptions};
use crate::http::{self, Limits};
use crate::metrics::Metrics;

/// `router` wrapped in the same middleware a running service has.
pub fn app(router: Router) -> Router {
    http::wrap(router, Metrics::new(), Limits::default())
}

/// Service arguments as if given on the command line (no environment is read for the flags given).
pub fn service_args(flags: &[&str]) -> crate::service::ServiceArgs {
    #[derive(clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        service: crate::service::ServiceArgs,
    }
    let argv = std::iter::once("test").chain(flags.iter().copied());
    <Wrapper as clap::Parser>::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("invalid test flags {flags:?}: {e}"))
        .service
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

/// A fresh, empty PostgreSQL database for one test, or `None` (skipped) when PostgreSQL is not
/// reachable outside CI.
pub async fn postgres_db() -> Option<Db> {
    let admin_url = postgres_admin_url();
    let admin = match Db::connect(&admin_url, &PoolOptions { max_connections: 1, ..PoolOptions::default() }).await {
        Ok(Db::Postgres(pool)) => pool,
        Ok(_) => panic!("BRIGADE_TEST_POSTGRES_URL must be a postgres:// URL"),
        Err(e) if required_backends() => {
            panic!("CI=true but PostgreSQL is not reachable at {admin_url}: {e}")
        }
        Err(e) => {
            eprintln!("skipped: PostgreSQL not reachable at {admin_url} ({e}); set CI=true to require it");
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
    let url = match admin_url.rfind('/') {
        Some(slash) if admin_url[..slash].contains("://") && slash > admin_url.find("://").unwrap_or(0) + 2 => {
            let query = admin_url[slash..].find('?').map(|q| &admin_url[slash + q..]).unwrap_or("");
            format!("{}/{name}{query}", &admin_url[..slash])
        }
        _ => format!("{admin_url}/{name}"),
    };
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
