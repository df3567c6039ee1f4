//! The consumer's side of "once in effect": what has been applied, recorded in the transaction
//! of the effect, and what was parked.

use super::consumer::{Consumers, HandlerError, Subscription};
use super::envelope::Envelope;
use super::wire::{Parked, Replayed};
use super::Error;
use crate::context::{self, RequestContext};
use crate::db::Query;
use crate::db::{Backend, Db, Tx};
use crate::metrics::ConsumerMetrics;
use crate::telemetry::{Traced, Tracer};
use crate::trace_context::TraceContext;
use tokio::time::Instant;
use tracing::Instrument;

/// The deadline a handler's outbound calls run under: the time a request may take at most
/// (a handler has no caller waiting; its transaction is what bounds it).
const HANDLER_CALL_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// What became of one delivered event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// Its effect committed.
    Applied,
    /// No handler takes its type; recorded as seen.
    Skipped,
    /// Already applied (or parked) before: nothing done.
    Duplicate,
    /// An earlier event of its subject is parked; this one was parked behind it.
    Held { behind: String },
    /// An earlier event of its subject has not been applied yet: deliver this one again later.
    OutOfOrder { last_applied: i64 },
}

/// Why an event was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Handler(#[from] HandlerError),
    #[error(transparent)]
    Store(#[from] Error),
}

impl From<sqlx::Error> for ApplyError {
    fn from(error: sqlx::Error) -> ApplyError {
        ApplyError::Store(Error::Sql(error))
    }
}

/// A consumer's records in its own store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Inbox {
    db: Db,
    /// Where the consumer spans go, when spans are exported.
    tracer: Option<Tracer>,
    /// The subscription's series (registered nowhere unless [`Inbox::measured`]).
    metrics: ConsumerMetrics,
}

impl Inbox {
    /// `db` must have [`super::INBOX_MIGRATION`] applied.
    pub fn new(db: Db) -> Inbox {
        Inbox {
            db,
            tracer: None,
            metrics: ConsumerMetrics::default(),
        }
    }

    /// This inbox, counting what it applies and fails into `metrics` (one subscription's
    /// series); the transports set its lag.
    pub fn measured(mut self, metrics: ConsumerMetrics) -> Inbox {
        self.metrics = metrics;
        self
    }

    pub(crate) fn metrics(&self) -> &ConsumerMetrics {
        &self.metrics
    }

    /// Sets the parked gauge to the events of `source` parked now (run at each scrape: a
    /// replay or another instance's parking changes it, so it is read rather than tracked).
    pub async fn refresh_parked(&self, source: &str) -> Result<(), Error> {
        let (parked,): (i64,) =
            Query::new("SELECT COUNT(*) FROM brigade_parked_events WHERE source = ?")
                .bind(source)
                .fetch_one::<(i64,)>(&self.db)
                .await?;
        self.metrics.parked.set(parked);
        Ok(())
    }

    /// This inbox, recording a consumer span for every event it hands to a handler.
    pub fn traced(mut self, tracer: Option<Tracer>) -> Inbox {
        self.tracer = tracer;
        self
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Records that the feed of `source` has been read up to `position` with nothing to apply
    /// (events of types this consumer does not handle).
    pub async fn skip_to(&self, source: &str, position: i64) -> Result<(), Error> {
        let mut tx = self.db.begin_write().await?;
        advance_cursor(&mut tx, source, position).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The feed position reached for `source` (embedded transport); 0 before the first event.
    pub async fn cursor(&self, source: &str) -> Result<i64, Error> {
        let row: Option<(i64,)> =
            Query::new("SELECT position FROM brigade_inbox_cursors WHERE source = ?")
                .bind(source)
                .fetch_optional::<(i64,)>(&self.db)
                .await?;
        Ok(row.map_or(0, |r| r.0))
    }

    /// Applies `envelope` with `subscription`'s handler, in one transaction with the records that
    /// make a repeat harmless. `position` is the feed position (embedded transport), advanced in
    /// the same transaction.
    pub async fn apply(
        &self,
        subscription: &Subscription,
        envelope: &Envelope,
        position: Option<i64>,
    ) -> Result<ApplyOutcome, ApplyError> {
        let outcome = self.apply_once(subscription, envelope, position).await;
        match &outcome {
            Ok(ApplyOutcome::Applied) => {
                self.metrics.applied.inc();
            }
            Err(_) => {
                self.metrics.failed.inc();
            }
            Ok(_) => {}
        }
        outcome
    }

    async fn apply_once(
        &self,
        subscription: &Subscription,
        envelope: &Envelope,
        position: Option<i64>,
    ) -> Result<ApplyOutcome, ApplyError> {
        let mut tx = self.db.begin_write().await?;
        if let Some(position) = position {
            if !advance_cursor(&mut tx, &envelope.source, position).await? {
                tx.rollback().await?;
                return Ok(ApplyOutcome::Duplicate);
            }
        }
        let last = lock_subject(&mut tx, envelope).await?;
        if envelope.subjectseq <= last {
            tx.commit().await?;
            return Ok(ApplyOutcome::Duplicate);
        }
        // The embedded feed delivers in commit order and leaves out the types this consumer
        // does not handle, so numbers may skip; a broker may deliver out of order, so there
        // every number must follow the last.
        if position.is_none() && envelope.subjectseq > last + 1 {
            tx.rollback().await?;
            return Ok(ApplyOutcome::OutOfOrder { last_applied: last });
        }
        if let Some(behind) = parked_before(&mut tx, envelope).await? {
            let error = format!("held behind parked event {behind} of the same subject");
            insert_parked(&mut tx, envelope, &error, 0, Some(&behind)).await?;
            set_subject_seq(&mut tx, envelope).await?;
            tx.commit().await?;
            return Ok(ApplyOutcome::Held { behind });
        }
        let span = self.consumer_span(envelope);
        let dispatched = match &span {
            Some((_, context)) => {
                // The handler's log lines carry the consumer span's trace, as a request's do.
                let logged = tracing::info_span!(
                    "event",
                    trace_id = %context.trace.trace_id_hex(),
                    span_id = %context.trace.span_id_hex(),
                    event_id = %envelope.id,
                );
                context::scope(context.clone(), subscription.dispatch(&mut tx, envelope))
                    .instrument(logged)
                    .await
            }
            None => subscription.dispatch(&mut tx, envelope).await,
        };
        let handled = match dispatched {
            Ok(handled) => handled,
            Err(error) => {
                if let Some((span, _)) = &span {
                    span.end_consumer("failed", Some(&error.to_string()));
                }
                tx.rollback().await?;
                return Err(error.into());
            }
        };
        set_subject_seq(&mut tx, envelope).await?;
        let committed = tx.commit().await;
        if let Some((span, _)) = &span {
            match &committed {
                Ok(()) => span.end_consumer(if handled { "applied" } else { "skipped" }, None),
                Err(error) => span.end_consumer("failed", Some(&error.to_string())),
            }
        }
        committed?;
        Ok(if handled {
            ApplyOutcome::Applied
        } else {
            ApplyOutcome::Skipped
        })
    }

    /// The consumer span of an event about to be handled, linked to the producer's span, and
    /// the context its handler runs in (so that its calls and the events it writes carry the
    /// consumer's trace).
    fn consumer_span(&self, envelope: &Envelope) -> Option<(Traced, RequestContext)> {
        let tracer = self.tracer.as_ref()?;
        let producer = envelope
            .traceparent
            .as_deref()
            .and_then(TraceContext::from_traceparent);
        let (span, trace) =
            tracer.consumer_span(producer.as_ref(), &envelope.event_type, &envelope.source);
        let context = RequestContext {
            trace,
            request_id: envelope.id.clone(),
            deadline: Instant::now() + HANDLER_CALL_BUDGET,
            span: Some(span.clone()),
        };
        Some((span, context))
    }

    /// Parks `envelope` with the error that keeps it from being applied, and moves past it: the
    /// subject's sequence (and the feed position) advance, so later events are not stuck
    /// waiting for it — those of the same subject are parked behind it.
    pub async fn park(
        &self,
        envelope: &Envelope,
        position: Option<i64>,
        error: &str,
        attempts: u32,
    ) -> Result<(), Error> {
        let mut tx = self.db.begin_write().await?;
        if let Some(position) = position {
            if !advance_cursor(&mut tx, &envelope.source, position).await? {
                tx.rollback().await?;
                return Ok(());
            }
        }
        let last = lock_subject(&mut tx, envelope).await?;
        if envelope.subjectseq <= last {
            // Applied or parked meanwhile by another instance.
            tx.commit().await?;
            return Ok(());
        }
        insert_parked(&mut tx, envelope, error, attempts, None).await?;
        set_subject_seq(&mut tx, envelope).await?;
        tx.commit().await?;
        tracing::warn!(
            event = %envelope.id,
            r#type = %envelope.event_type,
            subject = %envelope.subject,
            attempts,
            error,
            "event parked"
        );
        Ok(())
    }

    /// Every parked event, oldest first.
    pub async fn parked(&self) -> Result<Vec<Parked>, Error> {
        let rows: Vec<ParkedRow> = Query::new(
            "SELECT id, source, subject, subject_seq, type, error, attempts, held_behind, parked_at
             FROM brigade_parked_events ORDER BY parked_at, source, subject, subject_seq",
        )
        .fetch_all::<ParkedRow>(&self.db)
        .await?;
        Ok(rows.into_iter().map(into_parked).collect())
    }

    /// Applies parked event `id` again, bypassing the retry count; when it succeeds, the events
    /// held behind it follow in order, until one fails. Only the earliest parked event of a
    /// subject can be replayed, so that its events still apply in order.
    pub async fn replay(&self, consumers: &Consumers, id: &str) -> Result<Replayed, Error> {
        let Some((envelope, _)) = self.parked_envelope(id).await? else {
            return Err(Error::NotParked(id.to_owned()));
        };
        let queue = self.parked_of_subject(&envelope).await?;
        if let Some((first, _)) = queue.first() {
            if first.id != envelope.id {
                return Err(Error::ReplayFailed {
                    id: id.to_owned(),
                    error: format!(
                        "event {} of the same subject was parked before it: replay that one first",
                        first.id
                    ),
                });
            }
        }
        let subscription = consumers.get(&envelope.source);
        let mut replayed = Vec::new();
        for (parked, attempts) in queue {
            match self.replay_one(subscription, &parked).await? {
                Ok(()) => replayed.push(parked.id.clone()),
                Err(error) => {
                    self.record_failure(&parked.id, &error, attempts + 1)
                        .await?;
                    if replayed.is_empty() {
                        return Err(Error::ReplayFailed {
                            id: parked.id,
                            error,
                        });
                    }
                    break;
                }
            }
        }
        let still_parked = self.parked().await?.len();
        Ok(Replayed {
            replayed,
            still_parked,
        })
    }

    async fn replay_one(
        &self,
        subscription: Option<&Subscription>,
        envelope: &Envelope,
    ) -> Result<Result<(), String>, Error> {
        let mut tx = self.db.begin_write().await?;
        if let Some(subscription) = subscription {
            if let Err(error) = subscription.dispatch(&mut tx, envelope).await {
                tx.rollback().await?;
                return Ok(Err(error.to_string()));
            }
        }
        Query::new("DELETE FROM brigade_parked_events WHERE id = ?")
            .bind(&envelope.id)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        tracing::info!(event = %envelope.id, r#type = %envelope.event_type, "parked event replayed");
        Ok(Ok(()))
    }

    async fn record_failure(&self, id: &str, error: &str, attempts: i64) -> Result<(), Error> {
        Query::new("UPDATE brigade_parked_events SET error = ?, attempts = ?, held_behind = NULL WHERE id = ?")
.bind(error)
.bind(attempts)
.bind(id)
.execute(&self.db)
.await?;
        Ok(())
    }

    async fn parked_envelope(&self, id: &str) -> Result<Option<(Envelope, i64)>, Error> {
        let row: Option<(String, i64)> =
            Query::new("SELECT envelope, attempts FROM brigade_parked_events WHERE id = ?")
                .bind(id)
                .fetch_optional::<(String, i64)>(&self.db)
                .await?;
        row.map(|(text, attempts)| Ok((serde_json::from_str(&text)?, attempts)))
            .transpose()
    }

    async fn parked_of_subject(&self, envelope: &Envelope) -> Result<Vec<(Envelope, i64)>, Error> {
        let rows: Vec<(String, i64)> = Query::new(
            "SELECT envelope, attempts FROM brigade_parked_events
             WHERE source = ? AND subject = ? ORDER BY subject_seq",
        )
        .bind(&envelope.source)
        .bind(&envelope.subject)
        .fetch_all::<(String, i64)>(&self.db)
        .await?;
        rows.into_iter()
            .map(|(text, attempts)| Ok((serde_json::from_str(&text)?, attempts)))
            .collect()
    }
}

/// Moves the feed cursor to `position` unless it is there or past it already (another instance
/// applied this event). On PostgreSQL the row lock makes a concurrent second applier wait here
/// and then find the cursor moved.
async fn advance_cursor(tx: &mut Tx, source: &str, position: i64) -> Result<bool, Error> {
    Query::new("INSERT INTO brigade_inbox_cursors (source, position) VALUES (?, 0) ON CONFLICT (source) DO NOTHING")
.bind(source)
.execute(tx.conn())
.await?;
    let moved = Query::new(
        "UPDATE brigade_inbox_cursors SET position = ? WHERE source = ? AND position < ?",
    )
    .bind(position)
    .bind(source)
    .bind(position)
    .execute(tx.conn())
    .await?;
    Ok(moved == 1)
}

/// The sequence number of the subject's last applied event, locked until commit.
async fn lock_subject(tx: &mut Tx, envelope: &Envelope) -> Result<i64, Error> {
    Query::new(
        "INSERT INTO brigade_inbox_subjects (source, subject, seq) VALUES (?, ?, 0)
         ON CONFLICT (source, subject) DO NOTHING",
    )
    .bind(&envelope.source)
    .bind(&envelope.subject)
    .execute(tx.conn())
    .await?;
    let sql = match tx.backend() {
        Backend::Sqlite => {
            "SELECT seq FROM brigade_inbox_subjects WHERE source = ? AND subject = ?"
        }
        Backend::Postgres => {
            "SELECT seq FROM brigade_inbox_subjects WHERE source = ? AND subject = ? FOR UPDATE"
        }
    };
    let (seq,): (i64,) = Query::new(sql)
        .bind(&envelope.source)
        .bind(&envelope.subject)
        .fetch_one::<(i64,)>(tx.conn())
        .await?;
    Ok(seq)
}

async fn set_subject_seq(tx: &mut Tx, envelope: &Envelope) -> Result<(), Error> {
    Query::new(
        "UPDATE brigade_inbox_subjects SET seq = ? WHERE source = ? AND subject = ? AND seq < ?",
    )
    .bind(envelope.subjectseq)
    .bind(&envelope.source)
    .bind(&envelope.subject)
    .bind(envelope.subjectseq)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The id of a parked event of the same subject, if there is one.
async fn parked_before(tx: &mut Tx, envelope: &Envelope) -> Result<Option<String>, Error> {
    let row: Option<(String,)> = Query::new(
        "SELECT id FROM brigade_parked_events WHERE source = ? AND subject = ?
         ORDER BY subject_seq LIMIT 1",
    )
    .bind(&envelope.source)
    .bind(&envelope.subject)
    .fetch_optional::<(String,)>(tx.conn())
    .await?;
    Ok(row.map(|r| r.0))
}

async fn insert_parked(
    tx: &mut Tx,
    envelope: &Envelope,
    error: &str,
    attempts: u32,
    held_behind: Option<&str>,
) -> Result<(), Error> {
    let text = serde_json::to_string(envelope)?;
    Query::new("INSERT INTO brigade_parked_events
            (id, source, subject, subject_seq, type, envelope, error, attempts, held_behind, parked_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO NOTHING")
.bind(&envelope.id)
.bind(&envelope.source)
.bind(&envelope.subject)
.bind(envelope.subjectseq)
.bind(&envelope.event_type)
.bind(text)
.bind(error)
.bind(attempts as i64)
.bind(held_behind)
.bind(crate::time::now_rfc3339())
.execute(tx.conn())
.await?;
    Ok(())
}

type ParkedRow = (
    String,
    String,
    String,
    i64,
    String,
    String,
    i64,
    Option<String>,
    String,
);

fn into_parked(row: ParkedRow) -> Parked {
    let (id, source, subject, subjectseq, event_type, error, attempts, held_behind, parked_at) =
        row;
    Parked {
        id,
        source,
        subject,
        subjectseq,
        event_type,
        error,
        attempts,
        held_behind,
        parked_at,
    }
}
