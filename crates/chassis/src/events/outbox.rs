//! The outbox: events stored in the producer's own database, in the transaction of the change.

use std::sync::Arc;

use tokio::sync::Notify;

use super::envelope::{Envelope, Event, SPEC_VERSION};
use super::Error;
use crate::db::Query;
use crate::db::{Conn, Db, Migration};

/// The outbox tables, for every service that publishes events (add it to the service's
/// migrations). `position` is NULL until the relay has made the event available: positions
/// follow commit order, which sequence numbers (allocated before commit) do not.
pub const OUTBOX_MIGRATION: Migration = Migration {
    version: 9000,
    name: "brigade outbox",
    sqlite: "
        CREATE TABLE brigade_outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL,
            type TEXT NOT NULL,
            schema_version INTEGER NOT NULL,
            subject TEXT NOT NULL,
            subject_seq INTEGER NOT NULL,
            time TEXT NOT NULL,
            traceparent TEXT,
            data TEXT NOT NULL,
            position INTEGER UNIQUE,
            UNIQUE (source, subject, subject_seq)
        );
        CREATE INDEX brigade_outbox_unrelayed ON brigade_outbox (seq) WHERE position IS NULL;
        CREATE TABLE brigade_outbox_relay (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            last_position INTEGER NOT NULL,
            holder TEXT,
            held_until_ms INTEGER NOT NULL
        );
        INSERT INTO brigade_outbox_relay (id, last_position, holder, held_until_ms) VALUES (1, 0, NULL, 0);
    ",
    postgres: "
        CREATE TABLE brigade_outbox (
            seq BIGSERIAL PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL,
            type TEXT NOT NULL,
            schema_version BIGINT NOT NULL,
            subject TEXT NOT NULL,
            subject_seq BIGINT NOT NULL,
            time TEXT NOT NULL,
            traceparent TEXT,
            data TEXT NOT NULL,
            position BIGINT UNIQUE,
            UNIQUE (source, subject, subject_seq)
        );
        CREATE INDEX brigade_outbox_unrelayed ON brigade_outbox (seq) WHERE position IS NULL;
        CREATE TABLE brigade_outbox_relay (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            last_position BIGINT NOT NULL,
            holder TEXT,
            held_until_ms BIGINT NOT NULL
        );
        INSERT INTO brigade_outbox_relay (id, last_position, holder, held_until_ms) VALUES (1, 0, NULL, 0);
    ",
};

/// The inbox tables, for every service that consumes events: per subject, the sequence number of
/// the last event applied; per producer, the feed position reached (embedded transport); and the
/// parked events.
pub const INBOX_MIGRATION: Migration = Migration {
    version: 9001,
    name: "brigade inbox",
    sqlite: "
        CREATE TABLE brigade_inbox_subjects (
            source TEXT NOT NULL,
            subject TEXT NOT NULL,
            seq INTEGER NOT NULL,
            PRIMARY KEY (source, subject)
        );
        CREATE TABLE brigade_inbox_cursors (
            source TEXT PRIMARY KEY,
            position INTEGER NOT NULL
        );
        CREATE TABLE brigade_parked_events (
            id TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            subject TEXT NOT NULL,
            subject_seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            envelope TEXT NOT NULL,
            error TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            held_behind TEXT,
            parked_at TEXT NOT NULL
        );
        CREATE INDEX brigade_parked_by_subject ON brigade_parked_events (source, subject, subject_seq);
    ",
    postgres: "
        CREATE TABLE brigade_inbox_subjects (
            source TEXT NOT NULL,
            subject TEXT NOT NULL,
            seq BIGINT NOT NULL,
            PRIMARY KEY (source, subject)
        );
        CREATE TABLE brigade_inbox_cursors (
            source TEXT PRIMARY KEY,
            position BIGINT NOT NULL
        );
        CREATE TABLE brigade_parked_events (
            id TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            subject TEXT NOT NULL,
            subject_seq BIGINT NOT NULL,
            type TEXT NOT NULL,
            envelope TEXT NOT NULL,
            error TEXT NOT NULL,
            attempts BIGINT NOT NULL,
            held_behind TEXT,
            parked_at TEXT NOT NULL
        );
        CREATE INDEX brigade_parked_by_subject ON brigade_parked_events (source, subject, subject_seq);
    ",
};

/// A producer's handle on its outbox: append events inside the change's transaction, then
/// [`wake`](Outbox::wake) the relay once that transaction has committed. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    committed: Arc<Notify>,
}

impl Outbox {
    pub fn new() -> Outbox {
        Outbox::default()
    }

    /// Writes `event` into the outbox through `conn`, which must be inside the transaction that
    /// makes the change the event announces. Concurrent appends for one subject take turns (a
    /// per-subject lock until commit on PostgreSQL, the write lock on SQLite), so each subject's
    /// events are numbered 1, 2, … in commit order.
    pub async fn append<E: Event>(&self, conn: Conn<'_>, event: &E) -> Result<Envelope, Error> {
        let envelope = Envelope::of(event, 0)?;
        append_envelope(conn, envelope).await
    }

    /// Tells this instance's relay that events were committed, so it relays them now rather than
    /// at its next look.
    pub fn wake(&self) {
        self.committed.notify_one();
    }

    pub(crate) fn committed(&self) -> &Notify {
        &self.committed
    }
}

/// Stores an envelope, giving it the next sequence number of its subject.
pub(crate) async fn append_envelope(
    conn: Conn<'_>,
    mut envelope: Envelope,
) -> Result<Envelope, Error> {
    let data = serde_json::to_string(&envelope.data)?;
    let mut conn = conn;
    if let Conn::Postgres(pg) = &mut conn {
        // Concurrent changes of one subject do not always lock one row (an order's several
        // charges are several rows): a transaction-scoped lock on the subject makes their
        // appends take turns, so each sees the previous one's number. SQLite's write lock,
        // held from the transaction's start, already does.
        sqlx::query("SELECT pg_advisory_xact_lock(7420401, hashtext($1 || '/' || $2))")
            .bind(&envelope.source)
            .bind(&envelope.subject)
            .execute(&mut **pg)
            .await?;
    }
    let (seq,): (i64,) = Query::new("SELECT COALESCE(MAX(subject_seq), 0) + 1 FROM brigade_outbox WHERE source = ? AND subject = ?")
.bind(&envelope.source)
.bind(&envelope.subject)
.fetch_one::<(i64,)>(conn.reborrow())
.await?;
    envelope.subjectseq = seq;
    Query::new("INSERT INTO brigade_outbox (id, source, type, schema_version, subject, subject_seq, time, traceparent, data)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
.bind(&envelope.id)
.bind(&envelope.source)
.bind(&envelope.event_type)
.bind(envelope.schemaversion as i64)
.bind(&envelope.subject)
.bind(seq)
.bind(&envelope.time)
.bind(&envelope.traceparent)
.bind(&data)
.execute(conn)
.await?;
    Ok(envelope)
}

type Row = (
    i64,
    String,
    String,
    String,
    i64,
    String,
    i64,
    String,
    Option<String>,
    String,
);

const COLUMNS: &str =
    "seq, id, source, type, schema_version, subject, subject_seq, time, traceparent, data";

fn envelope_of(row: Row) -> Result<(i64, Envelope), Error> {
    let (
        seq,
        id,
        source,
        event_type,
        schema_version,
        subject,
        subject_seq,
        time,
        traceparent,
        data,
    ) = row;
    Ok((
        seq,
        Envelope {
            specversion: SPEC_VERSION.to_owned(),
            id,
            event_type,
            source,
            subject,
            time,
            datacontenttype: "application/json".to_owned(),
            schemaversion: schema_version as u32,
            subjectseq: subject_seq,
            traceparent,
            data: serde_json::from_str(&data)?,
        },
    ))
}

/// Relayed events after `position`, in position order, with their positions.
pub(crate) async fn read_feed(
    db: &Db,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, Envelope)>, Error> {
    let sql = format!(
        "SELECT position, {COLUMNS} FROM brigade_outbox WHERE position > ? ORDER BY position LIMIT ?"
    );
    let rows: Vec<PositionedRow> = Query::new(&sql)
        .bind(after)
        .bind(limit)
        .fetch_all::<PositionedRow>(db)
        .await?;
    let rows = rows.into_iter().map(split_position);
    rows.into_iter()
        .map(|(position, row)| envelope_of(row).map(|(_, envelope)| (position, envelope)))
        .collect()
}

type PositionedRow = (
    i64,
    i64,
    String,
    String,
    String,
    i64,
    String,
    i64,
    String,
    Option<String>,
    String,
);

fn split_position(r: PositionedRow) -> (i64, Row) {
    (r.0, (r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10))
}

/// The highest position given so far.
pub(crate) async fn last_position(db: &Db) -> Result<i64, Error> {
    let sql = "SELECT last_position FROM brigade_outbox_relay WHERE id = 1";
    let (last,): (i64,) = Query::new(sql).fetch_one(db).await?;
    Ok(last)
}

/// Whether any committed event still waits for the relay (a cheap indexed look, taken before
/// the relay's locking transaction so that an idle relay never takes the write lock).
pub(crate) async fn has_unrelayed(db: &Db) -> Result<bool, Error> {
    let sql = "SELECT seq FROM brigade_outbox WHERE position IS NULL LIMIT 1";
    let row: Option<(i64,)> = Query::new(sql).fetch_optional(db).await?;
    Ok(row.is_some())
}

/// How many committed events wait for the relay, and when the oldest of them was appended
/// (RFC 3339), both from the unrelayed index.
pub(crate) async fn unrelayed_backlog(db: &Db) -> Result<(i64, Option<String>), Error> {
    let sql = "SELECT COUNT(*), (SELECT time FROM brigade_outbox WHERE position IS NULL ORDER BY seq LIMIT 1)
         FROM brigade_outbox WHERE position IS NULL";
    let backlog = Query::new(sql)
        .fetch_one::<(i64, Option<String>)>(db)
        .await?;
    Ok(backlog)
}

/// Up to `limit` unrelayed events in sequence order, with their sequence numbers.
pub(crate) async fn read_unrelayed(db: &Db, limit: i64) -> Result<Vec<(i64, Envelope)>, Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM brigade_outbox WHERE position IS NULL ORDER BY seq LIMIT ?");
    let rows: Vec<Row> = Query::new(&sql).bind(limit).fetch_all::<Row>(db).await?;
    rows.into_iter().map(envelope_of).collect()
}

/// Gives positions to unrelayed events: all of them (up to `limit`) when `only` is `None`, else
/// just the listed sequence numbers. Returns how many got one.
///
/// Positions must follow commit order, so that a consumer that has read up to position P never
/// later finds an event below P. The counter row is locked first and held until commit: two
/// relays position one after the other, and the second sees the first's work.
pub(crate) async fn assign_positions(
    db: &Db,
    only: Option<&[i64]>,
    limit: i64,
) -> Result<u64, Error> {
    let mut tx = db.begin_write().await?;
    // On SQLite, BEGIN IMMEDIATE already holds the write lock; PostgreSQL locks the counter row.
    let counter = match tx.backend() {
        crate::db::Backend::Sqlite => "SELECT last_position FROM brigade_outbox_relay WHERE id = 1",
        crate::db::Backend::Postgres => {
            "SELECT last_position FROM brigade_outbox_relay WHERE id = 1 FOR UPDATE"
        }
    };
    let (last,): (i64,) = Query::new(counter).fetch_one::<(i64,)>(tx.conn()).await?;
    let assigned = match only {
        None => {
            Query::new(
                "UPDATE brigade_outbox SET position = ? + r.rn
             FROM (SELECT seq, ROW_NUMBER() OVER (ORDER BY seq) AS rn
                   FROM brigade_outbox WHERE position IS NULL ORDER BY seq LIMIT ?) AS r
             WHERE brigade_outbox.seq = r.seq",
            )
            .bind(last)
            .bind(limit)
            .execute(tx.conn())
            .await?
        }
        Some(seqs) => {
            let mut n = 0;
            for seq in seqs {
                n += Query::new(
                    "UPDATE brigade_outbox SET position = ? WHERE seq = ? AND position IS NULL",
                )
                .bind(last + n as i64 + 1)
                .bind(seq)
                .execute(tx.conn())
                .await?;
            }
            n
        }
    };
    Query::new("UPDATE brigade_outbox_relay SET last_position = ? WHERE id = 1")
        .bind(last + assigned as i64)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(assigned)
}

/// Takes or renews the publishing lease (JetStream relays publish one at a time, so that a
/// stream holds a producer's events in sequence order). True when `holder` has it.
pub(crate) async fn take_lease(db: &Db, holder: &str, lease_ms: u64) -> Result<bool, Error> {
    let now = crate::time::unix_ms() as i64;
    let until = now + lease_ms as i64;
    let taken = Query::new(
        "UPDATE brigade_outbox_relay SET holder = ?, held_until_ms = ?
         WHERE id = 1 AND (holder IS NULL OR holder = ? OR held_until_ms < ?)",
    )
    .bind(holder)
    .bind(until)
    .bind(holder)
    .bind(now)
    .execute(db)
    .await?;
    Ok(taken == 1)
}

/// Gives up the publishing lease, so another instance can take it at once.
pub(crate) async fn release_lease(db: &Db, holder: &str) -> Result<(), Error> {
    Query::new("UPDATE brigade_outbox_relay SET holder = NULL, held_until_ms = 0 WHERE id = 1 AND holder = ?")
.bind(holder)
.execute(db)
.await?;
    Ok(())
}

/// Every event in the outbox, relayed or not, in the order they were appended (tests, tools).
pub async fn stored_events(db: &Db) -> Result<Vec<Envelope>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM brigade_outbox ORDER BY seq");
    let rows: Vec<Row> = Query::new(&sql).fetch_all::<Row>(db).await?;
    rows.into_iter()
        .map(|row| envelope_of(row).map(|(_, envelope)| envelope))
        .collect()
}
