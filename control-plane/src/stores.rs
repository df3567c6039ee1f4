//! Where `brigade up` puts each service's store: a SQLite file in the data directory (the
//! default), or, with `--postgres URL` (or `--production-like`), a PostgreSQL database of its
//! own on that server, `PREFIX_SERVICE`, created before any service starts when missing. A server
//! that cannot be reached, or that refuses, stops `brigade up` there with the reason.

use std::collections::BTreeMap;

use anyhow::Context as _;
use brigade_chassis::db::provision::{self, PostgresServer};

use crate::manifest::Manifest;

/// The PostgreSQL server `--production-like` uses when `--postgres` is not given.
pub const LOCAL_POSTGRES: &str = "postgres://127.0.0.1:5432";

/// The NATS server `--production-like` uses when neither `--nats` nor the manifest names one.
pub const LOCAL_NATS: &str = "nats://127.0.0.1:4222";

/// clap's value parser for `--postgres`.
pub fn parse_server(url: &str) -> Result<PostgresServer, String> {
    PostgresServer::parse(url).map_err(|e| e.to_string())
}

/// clap's value parser for `--postgres-prefix`.
pub fn parse_prefix(prefix: &str) -> Result<String, String> {
    // The longest service name must still fit: PostgreSQL cuts names at 63 bytes.
    if prefix.len() > 32 {
        return Err(format!("`{prefix}` is longer than 32 characters"));
    }
    provision::service_database(prefix, "x")
        .map(|_| prefix.to_owned())
        .map_err(|_| format!("`{prefix}` must be a-z, 0-9 and _, not starting with a digit"))
}

/// Each service's store URL (by service name), for the services that get one on PostgreSQL.
#[derive(Debug, Default)]
pub struct Stores {
    /// The server, redacted, and the prefix, for saying where the stores are.
    pub postgres: Option<(String, String)>,
    pub urls: BTreeMap<String, String>,
    /// Databases made by this start.
    pub created: Vec<String>,
}

/// The server `--postgres` names, or the local one under `--production-like`.
pub fn chosen(postgres: Option<&PostgresServer>, production_like: bool) -> Option<PostgresServer> {
    match postgres {
        Some(server) => Some(server.clone()),
        None if production_like => PostgresServer::parse(LOCAL_POSTGRES).ok(),
        None => None,
    }
}

/// Prepares a database per service that keeps a store on `server` (none: SQLite files).
/// A service whose manifest environment names its own `BRIGADE_DATABASE_URL` keeps it.
pub async fn prepare(
    server: Option<&PostgresServer>,
    prefix: &str,
    manifest: &Manifest,
) -> anyhow::Result<Stores> {
    let Some(server) = server else {
        return Ok(Stores::default());
    };
    let services: Vec<&str> = manifest
        .services
        .iter()
        .filter(|s| s.instances > 0 && !s.env.contains_key("BRIGADE_DATABASE_URL"))
        .filter(|s| crate::run::has_store(&s.name) != Some(false))
        .map(|s| s.name.as_str())
        .collect();
    let admin = server.admin().await.map_err(|e| {
        anyhow::anyhow!(
            "{e}\nstart PostgreSQL there (or give another server with --postgres), or run without \
             --postgres / --production-like for SQLite files; no service was started"
        )
    })?;
    let mut stores = Stores {
        postgres: Some((server.redacted(), prefix.to_owned())),
        ..Stores::default()
    };
    for service in services {
        let name = provision::service_database(prefix, service)?;
        let created = admin
            .create_if_missing(&name)
            .await
            .with_context(|| format!("cannot prepare {service}'s store; no service was started"))?;
        if created {
            stores.created.push(name.clone());
        }
        stores
            .urls
            .insert(service.to_owned(), server.database_url(&name));
    }
    admin.close().await;
    Ok(stores)
}

impl Stores {
    /// Each service's store URL, by service name.
    pub fn into_urls(self) -> BTreeMap<String, String> {
        self.urls
    }

    /// One line saying where the stores are.
    pub fn describe(&self, sqlite_dir: &std::path::Path) -> String {
        match &self.postgres {
            None => format!(
                "stores: a SQLite file per service in {}",
                sqlite_dir.display()
            ),
            Some((server, prefix)) => {
                let created = if self.created.is_empty() {
                    "all existed".to_owned()
                } else {
                    format!("{} created", self.created.len())
                };
                format!(
                    "stores: a PostgreSQL database per service on {server}: {prefix}_* ({} databases, {created})",
                    self.urls.len()
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_is_checked_before_anything_starts() {
        assert_eq!(parse_prefix("shop_2").unwrap(), "shop_2");
        for bad in ["Shop", "9shop", "shop-2", "", &"p".repeat(33)] {
            assert!(parse_prefix(bad).is_err(), "{bad:?}");
        }
        assert!(parse_server("postgres://127.0.0.1:5432").is_ok());
        let given = parse_server("postgres://db:5433/x").unwrap();
        assert_eq!(chosen(Some(&given), true), Some(given.clone()));
        assert_eq!(chosen(None, true).unwrap().url(), LOCAL_POSTGRES);
        assert_eq!(chosen(None, false), None);
        let error = parse_server("127.0.0.1:5432").unwrap_err();
        assert!(error.contains("postgres://"), "{error}");
    }
}
