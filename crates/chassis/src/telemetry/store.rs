//! Store spans: one client span per statement the store runs (and per commit), child of the
//! span of the request or event it runs for, named and described per the OpenTelemetry
//! database conventions: `db.system.name`, `db.operation.name`, `db.collection.name` where the
//! statement names one table, and `db.query.summary` (`SELECT products`), which is also the
//! span's name.
//!
//! Neither the statement's values nor its text are recorded: the values may be anything a user
//! sent, and the summary says what people look for in a waterfall at a fraction of the export
//! cost. A statement of a request that is not sampled makes no span at all.

use opentelemetry::trace::{SpanBuilder, SpanKind, Status, TraceContextExt};
use opentelemetry::KeyValue;

use super::Traced;

/// The `db.system.name` of SQLite.
pub const SQLITE: &str = "sqlite";
/// The `db.system.name` of PostgreSQL.
pub const POSTGRESQL: &str = "postgresql";

/// What a statement does and to which table, read from its text: the operation is its first
/// keyword (the main statement's after a `WITH`), the table the one after `FROM`, `INTO` or
/// `UPDATE` outside parentheses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary<'a> {
    pub operation: String,
    pub collection: Option<&'a str>,
}

impl<'a> Summary<'a> {
    pub fn of(sql: &'a str) -> Summary<'a> {
        let mut words = TopLevelWords::new(sql);
        let mut operation = words.next().map(str::to_ascii_uppercase);
        if operation.as_deref() == Some("WITH") {
            operation = words
                .by_ref()
                .map(str::to_ascii_uppercase)
                .find(|w| matches!(w.as_str(), "SELECT" | "INSERT" | "UPDATE" | "DELETE"));
        }
        let operation = operation.unwrap_or_default();
        let collection = match operation.as_str() {
            "UPDATE" => words.next(),
            "SELECT" | "DELETE" | "INSERT" => {
                let before = if operation == "INSERT" {
                    "INTO"
                } else {
                    "FROM"
                };
                words
                    .by_ref()
                    .find(|w| w.eq_ignore_ascii_case(before))
                    .and_then(|_| words.next())
            }
            _ => None,
        };
        Summary {
            operation,
            collection: collection.filter(|table| is_identifier(table)),
        }
    }

    /// `db.query.summary`: the operation and its table.
    pub fn text(&self) -> String {
        match self.collection {
            Some(table) => format!("{} {table}", self.operation),
            None => self.operation.clone(),
        }
    }
}

fn is_identifier(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// The words of a statement outside parentheses and string literals.
struct TopLevelWords<'a> {
    sql: &'a str,
    at: usize,
}

impl<'a> TopLevelWords<'a> {
    fn new(sql: &'a str) -> Self {
        TopLevelWords { sql, at: 0 }
    }
}

impl<'a> Iterator for TopLevelWords<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let bytes = self.sql.as_bytes();
        let mut depth = 0usize;
        let mut in_literal = false;
        while self.at < bytes.len() {
            let c = bytes[self.at];
            let word_char = c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
            if in_literal {
                in_literal = c != b'\'';
            } else if c == b'\'' {
                in_literal = true;
            } else if c == b'(' {
                depth += 1;
            } else if c == b')' {
                depth = depth.saturating_sub(1);
            } else if word_char && depth == 0 {
                let start = self.at;
                while self.at < bytes.len()
                    && (bytes[self.at].is_ascii_alphanumeric()
                        || bytes[self.at] == b'_'
                        || bytes[self.at] == b'.')
                {
                    self.at += 1;
                }
                return Some(&self.sql[start..self.at]);
            }
            self.at += 1;
        }
        None
    }
}

impl Traced {
    /// A client span for a statement of `system` (`sqlite`, `postgresql`) run for this span's
    /// request, or `None` when the request is not sampled (nothing is built then).
    pub fn store_span(&self, system: &'static str, sql: &str) -> Option<Traced> {
        if !self.cx.span().span_context().is_sampled() {
            return None;
        }
        let summary = Summary::of(sql);
        let text = summary.text();
        let mut attributes = Vec::with_capacity(4);
        attributes.push(KeyValue::new("db.system.name", system));
        attributes.push(KeyValue::new("db.operation.name", summary.operation));
        if let Some(table) = summary.collection {
            attributes.push(KeyValue::new("db.collection.name", table.to_owned()));
        }
        attributes.push(KeyValue::new("db.query.summary", text.clone()));
        let builder = SpanBuilder::from_name(text)
            .with_kind(SpanKind::Client)
            .with_attributes(attributes);
        let parent = self.trace();
        let (span, _) = self
            .tracer
            .start(builder, &self.cx, Some(parent.span_id), || parent.child());
        Some(span)
    }

    /// Ends a store span; `error` is the kind of failure (`error.type`), never its message,
    /// which may quote the values.
    pub fn end_store(&self, error: Option<&'static str>) {
        let span = self.cx.span();
        if let Some(error) = error {
            span.set_attribute(KeyValue::new("error.type", error));
            span.set_status(Status::error(error));
        }
        span.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_is_summarised_by_its_operation_and_table() {
        let cases = [
            (
                "SELECT id, (SELECT 1 FROM b) FROM products p WHERE id = ?",
                "SELECT products",
                Some("products"),
            ),
            (
                "  insert into orders (id) VALUES (?)",
                "INSERT orders",
                Some("orders"),
            ),
            (
                "UPDATE stock SET n = n - ? WHERE sku = 'a FROM b'",
                "UPDATE stock",
                Some("stock"),
            ),
            (
                "DELETE FROM carts WHERE id = ?",
                "DELETE carts",
                Some("carts"),
            ),
            (
                "WITH m AS (SELECT x FROM a) SELECT * FROM m JOIN b ON true",
                "SELECT m",
                Some("m"),
            ),
            // No table to name: the operation alone.
            ("SELECT 1", "SELECT", None),
            ("SELECT * FROM (VALUES (1))", "SELECT", None),
        ];
        for (sql, text, collection) in cases {
            let summary = Summary::of(sql);
            assert_eq!(
                (summary.text().as_str(), summary.collection),
                (text, collection),
                "{sql}"
            );
        }
    }
}
