//! Migration parity: a service's twin migration files (one per engine) must build the same
//! schema. [`assert_migrations_agree`] migrates a fresh SQLite store and a fresh PostgreSQL
//! database, reads back what each engine built (tables, columns with their type family, primary
//! keys and unique indexes, ordinary indexes) and fails with the differences, so that a migration that
//! drifts on one engine fails its service's tests rather than a deployment.
//!
//! Types are compared by family (integer, text, real, blob, boolean, timestamp, …), not by
//! name: the engines spell them differently, and a `uuid` (PostgreSQL) is a `text` (SQLite),
//! which is how the services store ids on SQLite. Index names are not compared either (each
//! engine names the indexes of constraints its own way): an index is its table, its columns in
//! order, whether it is unique and whether it is partial.

use std::collections::BTreeSet;

use crate::db::{migrate, Db, Migration, Query};

/// What is compared, as lines such as `column orders.status: text` or
/// `unique index orders (user_id, idempotency_key)`.
type Shape = BTreeSet<String>;

/// A parity check of `migrations`, with the differences a service declares fine (each with the
/// reason, which is the documentation of the difference).
#[derive(Debug, Clone)]
pub struct Parity<'a> {
    migrations: &'a [Migration],
    /// Tables to leave out: `(table, why)`. A table's name also covers the tables whose names
    /// start with it and `_` (SQLite's FTS5 shadow tables).
    ignored_tables: Vec<(&'a str, &'a str)>,
    /// Columns to leave out, with the indexes on them: `(table, column, why)`.
    ignored_columns: Vec<(&'a str, &'a str, &'a str)>,
}

/// Fails unless `migrations` build the same tables, columns, keys and indexes on SQLite and on
/// PostgreSQL. Skipped (with a message) when PostgreSQL is not reachable outside CI, like every
/// PostgreSQL test.
pub async fn assert_migrations_agree(migrations: &[Migration]) {
    Parity::new(migrations).assert().await;
}

impl<'a> Parity<'a> {
    pub fn new(migrations: &'a [Migration]) -> Parity<'a> {
        Parity {
            migrations,
            ignored_tables: Vec::new(),
            ignored_columns: Vec::new(),
        }
    }

    /// Leaves `table` (and its shadow tables, `table_*`) out: an engine-specific structure, such
    /// as a full-text index. `why` says why the difference is fine.
    pub fn ignore_table(mut self, table: &'a str, why: &'a str) -> Parity<'a> {
        self.ignored_tables.push((table, why));
        self
    }

    /// Leaves `table.column` and the indexes on it out. `why` says why the difference is fine.
    pub fn ignore_column(mut self, table: &'a str, column: &'a str, why: &'a str) -> Parity<'a> {
        self.ignored_columns.push((table, column, why));
        self
    }

    /// Migrates both engines and fails with every difference.
    pub async fn assert(self) {
        let Some(differences) = self.differences().await else {
            return;
        };
        assert!(
            differences.only_sqlite.is_empty() && differences.only_postgres.is_empty(),
            "the SQLite and PostgreSQL migrations disagree:\n  only on SQLite:\n    {}\n  \
             only on PostgreSQL:\n    {}",
            differences.only_sqlite.join("\n    "),
            differences.only_postgres.join("\n    "),
        );
    }

    /// Migrates both engines and lists what only one of them has; `None` when PostgreSQL is
    /// not reachable outside CI (skipped).
    pub async fn differences(&self) -> Option<Differences> {
        let postgres = super::postgres_db().await?;
        let (sqlite, _dir) = super::sqlite_db().await;
        for db in [&sqlite, &postgres] {
            migrate(db, self.migrations)
                .await
                .unwrap_or_else(|e| panic!("migrating {}: {e}", db.backend()));
        }
        let on_sqlite = self.keep(sqlite_shape(&sqlite).await);
        let on_postgres = self.keep(postgres_shape(&postgres).await);
        sqlite.close().await;
        postgres.close().await;
        let only = |a: &Shape, b: &Shape| a.difference(b).cloned().collect::<Vec<_>>();
        Some(Differences {
            only_sqlite: only(&on_sqlite, &on_postgres),
            only_postgres: only(&on_postgres, &on_sqlite),
        })
    }

    /// `shape` without what is declared fine to differ.
    fn keep(&self, shape: Vec<Item>) -> Shape {
        shape
            .into_iter()
            .filter(|item| {
                let table_ignored = self.ignored_tables.iter().any(|(table, _)| {
                    item.table == *table
                        || item
                            .table
                            .strip_prefix(table)
                            .is_some_and(|rest| rest.starts_with('_'))
                });
                let column_ignored = self.ignored_columns.iter().any(|(table, column, _)| {
                    item.table == *table && item.columns.iter().any(|c| c == column)
                });
                !table_ignored && !column_ignored
            })
            .map(|item| item.line)
            .collect()
    }
}

/// What one engine's schema has and the other's lacks, one line per table, column, key or index
/// (such as `column orders.status: text` or `unique index orders (user_id, idempotency_key)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Differences {
    pub only_sqlite: Vec<String>,
    pub only_postgres: Vec<String>,
}

/// One thing compared, with what it is about (to leave out what a service declares fine).
#[derive(Debug)]
struct Item {
    table: String,
    columns: Vec<String>,
    line: String,
}

impl Item {
    fn table(table: &str) -> Item {
        Item {
            table: table.to_owned(),
            columns: Vec::new(),
            line: format!("table {table}"),
        }
    }

    fn column(table: &str, column: &str, family: String) -> Item {
        Item {
            table: table.to_owned(),
            columns: vec![column.to_owned()],
            line: format!("column {table}.{column}: {family}"),
        }
    }

    /// A primary key is compared as the unique index it is: `PRIMARY KEY` and `NOT NULL UNIQUE`
    /// accept the same rows, and an engine-specific key (SQLite's rowid alias, kept for its
    /// full-text index) may stand beside the other engine's unique key.
    fn primary_key(table: &str, columns: Vec<String>) -> Item {
        Item::index(table, columns, true, false)
    }

    fn index(table: &str, columns: Vec<String>, unique: bool, partial: bool) -> Item {
        let line = format!(
            "{}index {table} ({}){}",
            if unique { "unique " } else { "" },
            columns.join(", "),
            if partial { " partial" } else { "" },
        );
        Item {
            table: table.to_owned(),
            columns,
            line,
        }
    }
}

/// A declared type's family, by SQLite's affinity rules (which PostgreSQL's names fit too),
/// with the families SQLite folds into others kept apart: booleans, times, UUIDs as text.
fn family(declared: &str) -> String {
    let declared = declared.to_ascii_lowercase();
    let has = |part: &str| declared.contains(part);
    let family = if has("bool") {
        "boolean"
    } else if has("timestamp") || has("date") || has("time ") {
        "timestamp"
    } else if has("int") || has("serial") {
        "integer"
    } else if has("char") || has("clob") || has("text") || has("uuid") || has("json") {
        "text"
    } else if has("real") || has("floa") || has("doub") {
        "real"
    } else if has("blob") || has("bytea") || declared.is_empty() {
        "blob"
    } else if has("numeric") || has("decimal") {
        "numeric"
    } else {
        // Anything else (`tsvector`, …) is its own family: it can only match itself.
        return declared;
    };
    family.to_owned()
}

fn expect<T>(what: &str, result: Result<T, sqlx::Error>) -> T {
    result.unwrap_or_else(|e| panic!("reading the schema ({what}): {e}"))
}

async fn sqlite_shape(db: &Db) -> Vec<Item> {
    let tables: Vec<(String,)> = expect(
        "tables",
        Query::new(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             ORDER BY name",
        )
        .fetch_all(db)
        .await,
    );
    let mut shape = Vec::new();
    for (table,) in tables {
        shape.push(Item::table(&table));
        let columns: Vec<(String, String, i64)> = expect(
            "columns",
            Query::new("SELECT name, type, pk FROM pragma_table_info(?) ORDER BY pk, cid")
                .bind(&table)
                .fetch_all(db)
                .await,
        );
        let mut key = Vec::new();
        for (column, declared, pk) in columns {
            shape.push(Item::column(&table, &column, family(&declared)));
            if pk > 0 {
                key.push(column);
            }
        }
        if !key.is_empty() {
            shape.push(Item::primary_key(&table, key));
        }
        let indexes: Vec<(String, i64, String, i64)> = expect(
            "indexes",
            Query::new("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?)")
                .bind(&table)
                .fetch_all(db)
                .await,
        );
        // The primary key's index is the key, compared above (a rowid key has none).
        for (index, unique, _, partial) in indexes.into_iter().filter(|i| i.2 != "pk") {
            let columns: Vec<(Option<String>,)> = expect(
                "index columns",
                Query::new("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
                    .bind(&index)
                    .fetch_all(db)
                    .await,
            );
            let columns = columns
                .into_iter()
                .map(|(c,)| c.unwrap_or_else(|| "<expression>".to_owned()))
                .collect();
            shape.push(Item::index(&table, columns, unique == 1, partial == 1));
        }
    }
    shape
}

async fn postgres_shape(db: &Db) -> Vec<Item> {
    let columns: Vec<(String, String, String)> = expect(
        "columns",
        Query::new(
            "SELECT c.table_name::text, c.column_name::text, c.data_type::text \
             FROM information_schema.columns c JOIN information_schema.tables t \
               ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
             WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
             ORDER BY c.table_name, c.ordinal_position",
        )
        .fetch_all(db)
        .await,
    );
    let mut shape = Vec::new();
    let mut tables = BTreeSet::new();
    for (table, column, declared) in columns {
        if tables.insert(table.clone()) {
            shape.push(Item::table(&table));
        }
        shape.push(Item::column(&table, &column, family(&declared)));
    }
    // Each index with its columns in order (an expression's position has no column).
    let indexes: Vec<(String, bool, bool, bool, String)> = expect(
        "indexes",
        Query::new(
            "SELECT t.relname::text, ix.indisprimary, ix.indisunique, ix.indpred IS NOT NULL, \
               (SELECT string_agg(COALESCE(a.attname::text, '<expression>'), ',' ORDER BY k.n) \
                FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) \
                LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) \
             FROM pg_index ix \
             JOIN pg_class t ON t.oid = ix.indrelid \
             JOIN pg_namespace s ON s.oid = t.relnamespace \
             WHERE s.nspname = current_schema() \
             ORDER BY t.relname",
        )
        .fetch_all(db)
        .await,
    );
    for (table, primary, unique, partial, columns) in indexes {
        let columns: Vec<String> = columns.split(',').map(str::to_owned).collect();
        shape.push(if primary {
            Item::primary_key(&table, columns)
        } else {
            Item::index(&table, columns, unique, partial)
        });
    }
    shape
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drift_in_types_columns_keys_and_indexes_is_found() {
        let drifting = [Migration {
            version: 1,
            name: "drifting",
            sqlite: "CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL, gone TEXT); \
                     CREATE INDEX t_n ON t (n);",
            postgres: "CREATE TABLE t (id UUID PRIMARY KEY, n TEXT NOT NULL); \
                       CREATE UNIQUE INDEX t_n ON t (n);",
        }];
        let Some(found) = Parity::new(&drifting).differences().await else {
            return;
        };
        assert_eq!(
            found,
            Differences {
                only_sqlite: vec![
                    "column t.gone: text".to_owned(),
                    "column t.n: integer".to_owned(),
                    "index t (n)".to_owned(),
                ],
                only_postgres: vec![
                    "column t.n: text".to_owned(),
                    "unique index t (n)".to_owned(),
                ],
            }
        );
        let forgiven = Parity::new(&drifting)
            .ignore_column("t", "n", "a test")
            .ignore_column("t", "gone", "a test")
            .differences()
            .await;
        assert_eq!(
            forgiven.map(|d| d.only_sqlite.len() + d.only_postgres.len()),
            Some(0)
        );
    }

    #[test]
    fn types_are_compared_by_family() {
        for (sqlite, postgres) in [
            ("INTEGER", "bigint"),
            ("BIGINT", "integer"),
            ("TEXT", "uuid"),
            ("TEXT", "character varying"),
            ("TEXT", "jsonb"),
            ("BLOB", "bytea"),
            ("REAL", "double precision"),
            ("BOOLEAN", "boolean"),
            ("TIMESTAMP", "timestamp with time zone"),
        ] {
            assert_eq!(family(sqlite), family(postgres), "{sqlite} / {postgres}");
        }
        assert_ne!(family("TEXT"), family("tsvector"));
        assert_ne!(family("INTEGER"), family("TEXT"));
    }
}
