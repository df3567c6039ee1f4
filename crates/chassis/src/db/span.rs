//! The store's hook into tracing: every statement a [`super::Query`] runs, and every begin and
//! commit of a [`super::Tx`], is a store span of the request (or event) it runs for, when that
//! request is sampled ([`crate::telemetry::store`]). One hook here covers every service, since
//! they all reach their store through `Query` and `Tx`.

use crate::context;
use crate::telemetry::{store, Traced};

use super::Backend;

/// A store span being recorded, or nothing (no traced request, or not sampled).
pub(super) struct StoreSpan(Option<Traced>);

impl StoreSpan {
    /// Starts the span of `sql` run on `backend` for the current request, if it is traced.
    pub(super) fn start(backend: Backend, sql: &str) -> StoreSpan {
        StoreSpan(context::current_span().and_then(|parent| {
            let system = match backend {
                Backend::Sqlite => store::SQLITE,
                Backend::Postgres => store::POSTGRESQL,
            };
            parent.store_span(system, sql)
        }))
    }

    /// Ends the span with how the statement went.
    pub(super) fn end<T>(self, result: &Result<T, sqlx::Error>) {
        if let Some(span) = self.0 {
            span.end_store(result.as_ref().err().map(error_type));
        }
    }
}

/// The `error.type` of a failed statement: the kind of failure, not its message (a database's
/// message may quote the values).
fn error_type(error: &sqlx::Error) -> &'static str {
    match error {
        sqlx::Error::Database(_) => "database",
        sqlx::Error::PoolTimedOut => "pool_timed_out",
        sqlx::Error::PoolClosed => "pool_closed",
        sqlx::Error::Io(_) => "io",
        sqlx::Error::RowNotFound => "row_not_found",
        sqlx::Error::Encode(_) => "encode",
        sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => "decode",
        sqlx::Error::Protocol(_) => "protocol",
        _ => "other",
    }
}
