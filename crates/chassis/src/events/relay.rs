//! The relay: makes committed outbox events available to consumers, in every instance of a
//! producer. It wakes when this instance commits an event and looks every `relay_interval` for
//! events committed elsewhere (or left by an instance that died between commit and relay).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::counter::Counter;
use tokio::sync::Notify;

use super::nats::Nats;
use super::outbox::{self, Outbox};
use super::{Error, Options};
use crate::db::Db;
use crate::metrics::EventMetrics;
use crate::shutdown::Stopping;

/// Events relayed per round.
const BATCH: i64 = 256;

/// How long a JetStream relay's publishing lease lasts without renewal.
const LEASE_MS: u64 = 5_000;

#[derive(Clone)]
enum Mode {
    /// Positions in commit order make the event visible in the feed.
    Embedded,
    /// Published to JetStream (then positioned, which records it as published).
    Nats(Arc<Publisher>),
}

/// What a JetStream relay needs: the connection, its name in the lease, the streams it has made
/// sure exist.
struct Publisher {
    nats: Nats,
    holder: String,
    streams: Mutex<HashSet<String>>,
}

/// One instance's relay. Cheap to clone.
#[derive(Clone)]
pub struct Relay {
    db: Db,
    outbox: Outbox,
    relayed: Arc<Notify>,
    mode: Mode,
    options: Options,
    /// Counts the events handed to the transport (registered nowhere unless measured).
    published: Counter,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field(
                "mode",
                &match self.mode {
                    Mode::Embedded => "embedded",
                    Mode::Nats(_) => "nats",
                },
            )
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// A relay for the embedded transport.
    pub fn embedded(db: Db, outbox: Outbox, options: Options) -> Relay {
        Relay {
            db,
            outbox,
            relayed: Arc::new(Notify::new()),
            mode: Mode::Embedded,
            options,
            published: Counter::default(),
        }
    }

    /// A relay publishing to JetStream; `holder` names this instance in the publishing lease.
    pub fn nats(db: Db, outbox: Outbox, nats: Nats, holder: &str, options: Options) -> Relay {
        Relay {
            db,
            outbox,
            relayed: Arc::new(Notify::new()),
            mode: Mode::Nats(Arc::new(Publisher {
                nats,
                holder: holder.to_owned(),
                streams: Mutex::default(),
            })),
            options,
            published: Counter::default(),
        }
    }

    /// This relay, counting what it publishes into `metrics`' outbox series.
    pub fn measured(mut self, metrics: &EventMetrics) -> Relay {
        self.published = metrics.outbox_published.clone();
        self
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Sets `metrics`' outbox gauges from the store: the events waiting for a relay (of any
    /// instance) and the age of the oldest. Run at each scrape rather than per event, as one
    /// indexed query.
    pub async fn refresh_backlog(&self, metrics: &EventMetrics) -> Result<(), Error> {
        let (pending, oldest) = outbox::unrelayed_backlog(&self.db).await?;
        let age = oldest.as_deref().and_then(age_seconds).unwrap_or(0.0);
        metrics.outbox_pending.set(pending);
        metrics.outbox_oldest_pending_age.set(age);
        Ok(())
    }

    /// Notified (all waiters) whenever this relay has made events available.
    pub(crate) fn relayed(&self) -> &Notify {
        &self.relayed
    }

    /// Relays until `stop`.
    pub async fn run(self, mut stop: Stopping) {
        let mut failures = 0;
        loop {
            let wait = match self.relay_once().await {
                Ok(n) if n as i64 >= BATCH => continue,
                Ok(_) => {
                    failures = 0;
                    self.options.relay_interval
                }
                Err(error) => {
                    failures += 1;
                    tracing::warn!(%error, "outbox relay failed; trying again");
                    super::backoff(self.options.retry_backoff, failures)
                }
            };
            tokio::select! {
                () = stop.stopped() => break,
                () = self.outbox.committed().notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        if let Mode::Nats(publisher) = &self.mode {
            if let Err(error) = outbox::release_lease(&self.db, &publisher.holder).await {
                tracing::debug!(%error, "could not release the publishing lease; it expires");
            }
        }
    }

    /// One round: relays what is waiting, returns how many events it relayed.
    pub async fn relay_once(&self) -> Result<u64, Error> {
        if !outbox::has_unrelayed(&self.db).await? {
            return Ok(0);
        }
        let relayed = match &self.mode {
            Mode::Embedded => outbox::assign_positions(&self.db, None, BATCH).await?,
            Mode::Nats(publisher) => {
                let Publisher {
                    nats,
                    holder,
                    streams,
                } = &**publisher;
                if !outbox::take_lease(&self.db, holder, LEASE_MS).await? {
                    // Another instance is publishing; it will get these too.
                    return Ok(0);
                }
                let batch = outbox::read_unrelayed(&self.db, BATCH).await?;
                let sources: HashSet<String> =
                    batch.iter().map(|(_, e)| e.source.clone()).collect();
                for source in sources {
                    let known = streams.lock().map(|s| s.contains(&source)).unwrap_or(false);
                    if !known {
                        nats.stream(&source).await?;
                        if let Ok(mut streams) = streams.lock() {
                            streams.insert(source);
                        }
                    }
                }
                let (seqs, events): (Vec<i64>, Vec<_>) = batch.into_iter().unzip();
                nats.publish(&events).await?;
                // A crash here republishes the batch; JetStream drops the repeats by id.
                outbox::assign_positions(&self.db, Some(&seqs), BATCH).await?
            }
        };
        if relayed > 0 {
            self.published.inc_by(relayed);
            self.relayed.notify_waiters();
        }
        Ok(relayed)
    }
}

/// Seconds since `time` (RFC 3339), never negative (clocks of several instances differ a little);
/// `None` when it does not parse.
fn age_seconds(time: &str) -> Option<f64> {
    let then =
        time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339).ok()?;
    let age = time::OffsetDateTime::now_utc() - then;
    Some(age.as_seconds_f64().max(0.0))
}
