//! Running one statement on either backend. The two engines need different placeholders (`?1`
//! against `$1`) and different pool types; this is the one place that knows, so that the query
//! code above it reads as plain SQL plus arguments.

use brigade_chassis::db::{Backend, Db};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::FromRow;

/// A bound argument.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
    /// A list of strings: a `text[]` on PostgreSQL; on SQLite, which has no arrays, a JSON array
    /// for the statement to open with `json_each`.
    TextList(Vec<String>),
}

/// A statement built from static fragments and numbered placeholders. User input only ever
/// travels as an [`Arg`], never in the text.
#[derive(Debug)]
pub(crate) struct Sql {
    backend: Backend,
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub(crate) fn new(backend: Backend) -> Sql {
        Sql {
            backend,
            text: String::new(),
            args: Vec::new(),
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    /// Appends SQL text.
    pub(crate) fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `arg`.
    pub(crate) fn bind(&mut self, arg: Arg) -> &mut Sql {
        self.args.push(arg);
        let sigil = match self.backend {
            Backend::Sqlite => '?',
            Backend::Postgres => '$',
        };
        self.text.push(sigil);
        self.text.push_str(&self.args.len().to_string());
        self
    }

    #[cfg(test)]
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Runs the statement and decodes every row.
    pub(crate) async fn fetch_all<O>(&self, db: &Db) -> Result<Vec<O>, sqlx::Error>
    where
        O: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        match db {
            Db::Sqlite(pool) => {
                let mut query = sqlx::query_as::<_, O>(&self.text);
                for arg in &self.args {
                    query = match arg {
                        Arg::Text(text) => query.bind(text.as_str()),
                        Arg::Int(int) => query.bind(*int),
                        Arg::TextList(list) => query.bind(json_array(list)),
                    };
                }
                query.fetch_all(pool).await
            }
            Db::Postgres(pool) => {
                let mut query = sqlx::query_as::<_, O>(&self.text);
                for arg in &self.args {
                    query = match arg {
                        Arg::Text(text) => query.bind(text.as_str()),
                        Arg::Int(int) => query.bind(*int),
                        Arg::TextList(list) => query.bind(list.as_slice()),
                    };
                }
                query.fetch_all(pool).await
            }
        }
    }
}

fn json_array(list: &[String]) -> String {
    // Serialising strings cannot fail; an empty array matches nothing, which is the safe side.
    serde_json::to_string(list).unwrap_or_else(|_| "[]".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_each_dialect() {
        for (backend, expected) in [
            (Backend::Sqlite, "a = ?1 AND b = ?2"),
            (Backend::Postgres, "a = $1 AND b = $2"),
        ] {
            let mut sql = Sql::new(backend);
            sql.push("a = ")
                .bind(Arg::Int(1))
                .push(" AND b = ")
                .bind(Arg::Text("x".into()));
            assert_eq!(sql.text(), expected);
        }
    }
}
