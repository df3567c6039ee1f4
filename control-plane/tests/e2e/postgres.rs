//! `brigade up --postgres URL`: every service that keeps a store on a PostgreSQL database of its
//! own, which `up` creates; a checkout goes through and every promise holds. A server that
//! cannot be reached is refused before any service starts. Service identity holds there too: a
//! direct charge to payments by anyone but orders is refused.
//!
//! Needs PostgreSQL at `BRIGADE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`): skipped with a message without it, failed under
//! `CI=true`. Each run names its databases with a prefix of its own and drops them at the end.

use std::process::{Command, Stdio};
use std::time::Duration;

use brigade_chassis::db::provision::PostgresServer;
use brigade_chassis::db::{Db, PoolOptions, Query};

use crate::checkout::assert_promises_hold;
use crate::support::shop::{product, Shopper};
use crate::support::System;

/// The services of the repository's manifest that keep a store.
const STORES: [&str; 10] = [
    "cart",
    "catalog",
    "currency",
    "inventory",
    "notifications",
    "orders",
    "payments",
    "recommendations",
    "shipping",
    "users",
];

/// One run's databases (`PREFIX_*`), dropped when the test ends, also when it fails.
struct Databases {
    server: PostgresServer,
    prefix: String,
}

impl Databases {
    async fn names(&self) -> Vec<String> {
        let admin = self.server.admin().await.unwrap();
        let mut names = admin
            .databases_starting_with(&format!("{}_", self.prefix))
            .await
            .unwrap();
        admin.close().await;
        names.sort();
        names
    }

    async fn count(&self, service: &str, table: &str) -> i64 {
        let url = self
            .server
            .database_url(&format!("{}_{service}", self.prefix));
        let db = Db::connect(&url, &PoolOptions::default()).await.unwrap();
        let (count,): (i64,) = Query::new(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&db)
            .await
            .unwrap();
        db.close().await;
        count
    }
}

impl Drop for Databases {
    fn drop(&mut self) {
        let (server, prefix) = (self.server.clone(), format!("{}_", self.prefix));
        // A runtime of its own, on a thread of its own: the test's may be unwinding.
        let pattern = prefix.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let admin = server.admin().await.unwrap();
                for name in admin.databases_starting_with(&prefix).await.unwrap() {
                    admin.drop_if_exists(&name).await.unwrap();
                }
                admin.close().await;
            });
        })
        .join();
        if dropped.is_err() {
            eprintln!("could not drop the databases {pattern}*");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgres_every_service_keeps_its_data_in_a_database_of_its_own() {
    let Some(server) = brigade_chassis::testing::postgres_server().await else {
        return;
    };
    let databases = Databases {
        server: server.clone(),
        prefix: brigade_chassis::testing::unique_namespace("e2e_"),
    };
    let system = System::up_with_args(
        None,
        &[
            "--postgres",
            server.url(),
            "--postgres-prefix",
            &databases.prefix,
        ],
    )
    .await;

    // One database per service that keeps a store, made by `up`; none for the edges.
    let expected: Vec<String> = STORES
        .iter()
        .map(|service| format!("{}_{service}", databases.prefix))
        .collect();
    assert_eq!(databases.names().await, expected);

    let ada = Shopper::sign_up(&system.gateway, "ada@example.com").await;
    let kettle = product(&system.gateway, 0).await;
    ada.buy_once(&kettle, 2, "pg-1").await;
    assert_eq!(
        ada.settled_orders(1, Duration::from_secs(10)).await.len(),
        1
    );
    // Service identity holds on these stores as on SQLite: payments' charges take orders alone.
    crate::identity::only_orders_reaches_payments_charges(&system, "mallory@example.com").await;
    assert_promises_hold(&system).await;

    // The order and the shopper are in their services' PostgreSQL databases, and no service
    // made a SQLite file.
    assert_eq!(databases.count("orders", "orders").await, 1);
    assert_eq!(databases.count("users", "users").await, 2); // ada, and mallory who attacked
    let sqlite_files: Vec<_> = std::fs::read_dir(system.data.path().join("data"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .collect()
        })
        .unwrap_or_default();
    assert!(sqlite_files.is_empty(), "{sqlite_files:?}");
    drop(system);
}

#[tokio::test]
async fn an_unreachable_postgres_is_refused_before_any_service_starts() {
    let port = brigade_operator::harness::free_port().unwrap();
    let data = tempfile::tempdir().unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{port}/brigade");
    let up = Command::new(env!("CARGO_BIN_EXE_brigade"))
        .args(["up", "--control-port", "0", "--gateway-port", "0"])
        .args(["--storefront-port", "0", "--postgres", &url])
        .arg("--data-dir")
        .arg(data.path())
        .current_dir(data.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&up.stdout);
    let stderr = String::from_utf8_lossy(&up.stderr);
    assert!(!up.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach PostgreSQL at {url}"))
            && stderr.contains("no service was started"),
        "{stderr}"
    );
    assert!(!stdout.contains("starting"), "{stdout}");

    // A URL that is not PostgreSQL's is a usage error naming the flag.
    let up = Command::new(env!("CARGO_BIN_EXE_brigade"))
        .args(["up", "--postgres", "127.0.0.1:5432"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&up.stderr);
    assert_eq!(up.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--postgres"), "{stderr}");
}
