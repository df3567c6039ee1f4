//! Databases of their own for services on one PostgreSQL server: each one's URL, derived from
//! the server's, and creating (or dropping) them. `brigade up --postgres` prepares a system's
//! stores with it before any service starts; tests and benchmarks make theirs with it.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

/// The longest PostgreSQL may take to accept a connection before it is called unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// PostgreSQL's limit on an identifier's length, in bytes.
const MAX_NAME: usize = 63;

/// Why databases could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("`{0}` is not a PostgreSQL URL: expected postgres://[USER[:PASSWORD]@]HOST[:PORT][/DATABASE]")]
    NotPostgres(String),
    #[error("`{0}` cannot be a database name: 1 to 63 characters of a-z, 0-9 and _, not starting with a digit")]
    BadName(String),
    #[error("cannot reach PostgreSQL at {url}: {source}")]
    Unreachable { url: String, source: sqlx::Error },
    // Worded as `Unreachable` is: a server that is down may refuse at once or, with the
    // connection retried, run out of time, and the user should read the same thing either way.
    #[error("cannot reach PostgreSQL at {url}: no answer within {}s", CONNECT_TIMEOUT.as_secs())]
    Timeout { url: String },
    #[error("PostgreSQL at {url} refused to create database {name}: {source}")]
    Create {
        url: String,
        name: String,
        source: sqlx::Error,
    },
    #[error("PostgreSQL at {url} refused to drop database {name}: {source}")]
    Drop {
        url: String,
        name: String,
        source: sqlx::Error,
    },
    #[error("cannot list the databases on PostgreSQL at {url}: {source}")]
    List { url: String, source: sqlx::Error },
}

/// A PostgreSQL server, by the URL of one of its databases (or of none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresServer {
    url: String,
}

impl PostgresServer {
    /// Accepts `postgres://` and `postgresql://` URLs that sqlx can connect with.
    pub fn parse(url: &str) -> Result<PostgresServer, ProvisionError> {
        let url = url.trim();
        let scheme_ok = url.starts_with("postgres://") || url.starts_with("postgresql://");
        if !scheme_ok || PgConnectOptions::from_str(url).is_err() {
            return Err(ProvisionError::NotPostgres(redact(url)));
        }
        Ok(PostgresServer {
            url: url.to_owned(),
        })
    }

    /// The URL as given, for connecting.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL with its password hidden, for messages.
    pub fn redacted(&self) -> String {
        redact(&self.url)
    }

    /// The URL of database `name` on this server: the same user, host, port and parameters.
    pub fn database_url(&self, name: &str) -> String {
        let (base, query) = match self.url.split_once('?') {
            Some((base, query)) => (base, format!("?{query}")),
            None => (self.url.as_str(), String::new()),
        };
        let authority_start = base.find("://").map_or(0, |i| i + 3);
        let server = match base[authority_start..].find('/') {
            Some(slash) => &base[..authority_start + slash],
            None => base,
        };
        format!("{server}/{name}{query}")
    }

    /// A connection for creating and dropping databases: to the URL's database, or to
    /// `postgres` (which every server has) when the URL names none.
    pub async fn admin(&self) -> Result<PostgresAdmin, ProvisionError> {
        let mut options = PgConnectOptions::from_str(&self.url)
            .map_err(|_| ProvisionError::NotPostgres(self.redacted()))?;
        if !self.names_a_database() {
            options = options.database("postgres");
        }
        let connect = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options);
        let pool = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(pool)) => pool,
            Ok(Err(source)) => {
                return Err(ProvisionError::Unreachable {
                    url: self.redacted(),
                    source,
                })
            }
            Err(_) => {
                return Err(ProvisionError::Timeout {
                    url: self.redacted(),
                })
            }
        };
        Ok(PostgresAdmin {
            pool,
            url: self.redacted(),
        })
    }

    fn names_a_database(&self) -> bool {
        let base = self.url.split('?').next().unwrap_or_default();
        let authority_start = base.find("://").map_or(0, |i| i + 3);
        base[authority_start..]
            .split_once('/')
            .is_some_and(|(_, database)| !database.is_empty())
    }
}

/// A connection that creates and drops databases on one server.
pub struct PostgresAdmin {
    pool: PgPool,
    url: String,
}

impl PostgresAdmin {
    /// Creates database `name` unless it exists; true when it was created. Safe to race: a
    /// database created meanwhile by someone else counts as existing.
    pub async fn create_if_missing(&self, name: &str) -> Result<bool, ProvisionError> {
        check_name(name)?;
        let failed = |source| ProvisionError::Create {
            url: self.url.clone(),
            name: name.to_owned(),
            source,
        };
        let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed)?;
        if exists.is_some() {
            return Ok(false);
        }
        // Not in a transaction (CREATE DATABASE cannot be); the name is checked, so quoting it
        // is enough.
        match sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&self.pool)
            .await
        {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => Ok(false),
            Err(source) => Err(failed(source)),
        }
    }

    /// Drops database `name` if it exists, closing its connections.
    pub async fn drop_if_exists(&self, name: &str) -> Result<(), ProvisionError> {
        check_name(name)?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(|source| ProvisionError::Drop {
                url: self.url.clone(),
                name: name.to_owned(),
                source,
            })
    }

    /// The databases whose names start with `prefix`.
    pub async fn databases_starting_with(
        &self,
        prefix: &str,
    ) -> Result<Vec<String>, ProvisionError> {
        let names: Vec<(String,)> =
            sqlx::query_as("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
                .bind(prefix)
                .fetch_all(&self.pool)
                .await
                .map_err(|source| ProvisionError::List {
                    url: self.url.clone(),
                    source,
                })?;
        Ok(names.into_iter().map(|(name,)| name).collect())
    }

    pub async fn close(self) {
        self.pool.close().await;
    }
}

/// The database of `service` among those named with `prefix`: `PREFIX_SERVICE`, a service's `-`
/// written `_`.
pub fn service_database(prefix: &str, service: &str) -> Result<String, ProvisionError> {
    if prefix.is_empty() {
        return Err(ProvisionError::BadName(format!("_{service}")));
    }
    let name = format!("{prefix}_{}", service.replace('-', "_"));
    check_name(&name)?;
    Ok(name)
}

/// A database name that needs no escaping: lower-case letters, digits and `_`.
pub fn check_name(name: &str) -> Result<(), ProvisionError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(ProvisionError::BadName(name.to_owned()))
    }
}

/// `url` with the password, if any, replaced by `***`.
fn redact(url: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[authority_start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    match authority.rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!(
                "{}{user}:***@{host}{}",
                &url[..authority_start],
                &url[authority_end..]
            )
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_database_url_keeps_the_server_user_and_parameters() {
        for (server, expected) in [
            (
                "postgres://postgres@127.0.0.1:5432/test",
                "postgres://postgres@127.0.0.1:5432/brigade_orders",
            ),
            (
                "postgres://127.0.0.1:5432",
                "postgres://127.0.0.1:5432/brigade_orders",
            ),
            (
                "postgresql://u:p@db:5432/?sslmode=disable",
                "postgresql://u:p@db:5432/brigade_orders?sslmode=disable",
            ),
            (
                "postgres://db/app?sslmode=require",
                "postgres://db/brigade_orders?sslmode=require",
            ),
        ] {
            let server = PostgresServer::parse(server).unwrap();
            assert_eq!(server.database_url("brigade_orders"), expected);
        }
    }

    #[test]
    fn only_postgres_urls_are_servers_and_passwords_are_never_shown() {
        assert!(PostgresServer::parse("mysql://db/x").is_err());
        assert!(PostgresServer::parse("127.0.0.1:5432").is_err());
        let server = PostgresServer::parse("postgres://shop:s3cret@db:5432/x").unwrap();
        assert_eq!(server.redacted(), "postgres://shop:***@db:5432/x");
        let error = PostgresServer::parse("http://shop:s3cret@db").unwrap_err();
        assert!(!error.to_string().contains("s3cret"), "{error}");
        assert!(PostgresServer::parse("postgres://db:5432").is_ok_and(|s| !s.names_a_database()));
        assert!(
            PostgresServer::parse("postgres://db:5432/test").is_ok_and(|s| s.names_a_database())
        );
    }

    #[test]
    fn service_databases_are_named_with_the_prefix() {
        assert_eq!(
            service_database("brigade", "orders").unwrap(),
            "brigade_orders"
        );
        assert_eq!(
            service_database("shop2", "sample-catalog").unwrap(),
            "shop2_sample_catalog"
        );
        for prefix in ["Brigade", "1shop", "a;drop", ""] {
            assert!(service_database(prefix, "orders").is_err(), "{prefix}");
        }
        assert!(service_database(&"p".repeat(60), "orders").is_err());
    }
}
