//! The events conformance suite: the same promises checked on both transports (embedded feed and
//! NATS JetStream), with a producer and a consumer served the way services serve them.
//!
//! Promise 5 of the brief: every committed change that announces an event announces it; each
//! consumer applies it once in effect, in order per subject; a poison event is parked, not
//! retried for ever, and does not block the rest.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use brigade_chassis::db::Tx;
use brigade_chassis::db::{Db, PoolOptions};
use brigade_chassis::events::{
    self, Envelope, Handle, Handled, HandlerError, Outbox, ParkedList, Replayed, Subscription,
};
use brigade_chassis::service::ServiceInfo;
use brigade_chassis::testing::{self, Instance};

use crate::support::{record_effect, sample, wait_for_sample, Ticked, EFFECTS};

pub(crate) const PRODUCER: ServiceInfo = ServiceInfo {
    name: "ledger",
    version: "test",
    depends_on: brigade_chassis::service::Dependencies {
        publishes: true,
        read_by: &["tally"],
        ..brigade_chassis::service::Dependencies::NONE
    },
};
pub(crate) const CONSUMER: ServiceInfo = ServiceInfo {
    name: "tally",
    version: "test",
    // It also calls the ledger directly in the metrics tests.
    depends_on: brigade_chassis::service::Dependencies {
        calls: &["ledger"],
        consumes: &["ledger"],
        ..brigade_chassis::service::Dependencies::NONE
    },
};

struct Record {
    /// Poison events fail until cured.
    cured: Arc<AtomicBool>,
}

impl Handle<Ticked> for Record {
    async fn handle(&self, tx: &mut Tx, event: Ticked, envelope: &Envelope) -> Handled {
        if event.poison && !self.cured.load(Ordering::SeqCst) {
            return Err(HandlerError::failed(
                "poisoned: this event cannot be applied yet",
            ));
        }
        record_effect(tx, &event, envelope).await
    }
}

#[derive(Clone, Copy, Debug)]
enum Transport {
    Embedded,
    Nats,
}

/// One test's world: a producer's and a consumer's stores, and the flags that select the
/// transport.
struct World {
    _dir: tempfile::TempDir,
    producer_url: String,
    consumer_url: String,
    producer_db: Db,
    consumer_db: Db,
    transport_flags: Vec<String>,
    cured: Arc<AtomicBool>,
    outbox: Outbox,
}

impl World {
    /// `None` when the transport's server is missing outside CI (the test is skipped).
    async fn new(transport: Transport) -> Option<World> {
        let transport_flags = match transport {
            Transport::Embedded => vec!["--events".to_owned(), "embedded".to_owned()],
            Transport::Nats => {
                let url = testing::nats_url().await?;
                vec![
                    "--events".to_owned(),
                    url,
                    "--events-namespace".to_owned(),
                    testing::unique_namespace("conf"),
                ]
            }
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let producer_url = format!("sqlite://{}", dir.path().join("ledger.db").display());
        let consumer_url = format!("sqlite://{}", dir.path().join("tally.db").display());
        let producer_db = Db::connect(&producer_url, &PoolOptions::default())
            .await
            .expect("producer store");
        brigade_chassis::db::migrate(&producer_db, &[events::OUTBOX_MIGRATION])
            .await
            .expect("producer migrations");
        let consumer_db = Db::connect(&consumer_url, &PoolOptions::default())
            .await
            .expect("consumer store");
        brigade_chassis::db::migrate(&consumer_db, &[events::INBOX_MIGRATION, EFFECTS])
            .await
            .expect("consumer migrations");
        Some(World {
            _dir: dir,
            producer_url,
            consumer_url,
            producer_db,
            consumer_db,
            transport_flags,
            cured: Arc::new(AtomicBool::new(false)),
            outbox: Outbox::new(),
        })
    }

    /// Commits `ticks` in one producer transaction, the way a service appends events with its
    /// change. No relay is told: as if the producer died right after committing.
    async fn commit(&self, ticks: &[Ticked]) -> Vec<Envelope> {
        let mut tx = self.producer_db.begin_write().await.expect("begin");
        let mut stored = Vec::new();
        for tick in ticks {
            stored.push(self.outbox.append(tx.conn(), tick).await.expect("append"));
        }
        tx.commit().await.expect("commit");
        stored
    }

    /// The producer's flags: its store and the transport.
    fn producer_flags(&self) -> Vec<String> {
        let mut flags = vec!["--database-url".to_owned(), self.producer_url.clone()];
        flags.extend(self.transport_flags.iter().cloned());
        flags
    }

    async fn start_producer(&self) -> Instance {
        let flags = self.producer_flags();
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        Instance::start_custom(PRODUCER, &flags, |mut ctx| async move {
            fast(&mut ctx);
            let db = ctx.open_store(&[events::OUTBOX_MIGRATION]).await?;
            ctx.publish_events(&db).await?;
            Ok(Router::new())
        })
        .await
    }

    async fn start_consumer(
        &self,
        producer: &Instance,
        tweak: impl FnOnce(Subscription) -> Subscription + Send + 'static,
    ) -> Instance {
        let peers = format!("ledger={}", producer.address);
        let mut flags = vec![
            "--database-url".to_owned(),
            self.consumer_url.clone(),
            "--peers".to_owned(),
            peers,
        ];
        flags.extend(self.transport_flags.iter().cloned());
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let cured = self.cured.clone();
        Instance::start_custom(CONSUMER, &flags, move |mut ctx| async move {
            fast(&mut ctx);
            let db = ctx.open_store(&[events::INBOX_MIGRATION, EFFECTS]).await?;
            let subscription = tweak(Subscription::new("ledger").on::<Ticked, _>(Record { cured }));
            ctx.subscribe(&db, subscription).await?;
            Ok(Router::new())
        })
        .await
    }

    fn nats_url(&self) -> Option<&str> {
        (self.transport_flags.len() == 4).then(|| self.transport_flags[1].as_str())
    }

    fn namespace(&self) -> &str {
        &self.transport_flags[3]
    }

    /// The applied effects, in application order: (event id, account, n).
    async fn effects(&self) -> Vec<(String, String, i64)> {
        match &self.consumer_db {
            Db::Sqlite(db) => {
                sqlx::query_as("SELECT event_id, account, n FROM effects ORDER BY id")
                    .fetch_all(db.pool())
                    .await
                    .expect("effects")
            }
            Db::Postgres(_) => unreachable!("the suite's consumer store is SQLite"),
        }
    }

    /// Waits until every event of `stored` took effect, checks that each did once and in order,
    /// then stops `instances`.
    async fn finish<const N: usize>(&self, stored: &[Envelope], instances: [Instance; N]) {
        let effects = self.wait_for_effects(stored.len()).await;
        assert_once_in_order(&effects, stored);
        stop(instances).await;
    }

    /// Waits (up to 20 s) until `count` effects are applied, then a moment more so that an extra
    /// one would show.
    async fn wait_for_effects(&self, count: usize) -> Vec<(String, String, i64)> {
        for _ in 0..400 {
            if self.effects().await.len() >= count {
                tokio::time::sleep(Duration::from_millis(300)).await;
                return self.effects().await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let effects = self.effects().await;
        panic!("only {} of {count} effects applied in 20 s", effects.len());
    }
}

/// A handler that takes a permit of `gate` before each attempt, so that a test can hold the
/// consumer behind its producer, then records as [`Record`] does.
struct Gated {
    gate: Arc<tokio::sync::Semaphore>,
    record: Record,
}

impl Handle<Ticked> for Gated {
    async fn handle(&self, tx: &mut Tx, event: Ticked, envelope: &Envelope) -> Handled {
        if let Ok(permit) = self.gate.acquire().await {
            permit.forget();
        }
        self.record.handle(tx, event, envelope).await
    }
}

impl World {
    /// A producer whose relay runs only when told (`POST /v1/relay`), so that committed events
    /// stay pending until then.
    async fn start_lazy_producer(&self) -> Instance {
        let flags = self.producer_flags();
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        Instance::start_custom(PRODUCER, &flags, |mut ctx| async move {
            fast(&mut ctx);
            ctx.events_options_mut().relay_interval = Duration::from_secs(3600);
            let db = ctx.open_store(&[events::OUTBOX_MIGRATION]).await?;
            let outbox = ctx.publish_events(&db).await?;
            Ok(Router::new().route(
                "/v1/relay",
                axum::routing::post(move || async move {
                    outbox.wake();
                    http::StatusCode::NO_CONTENT
                }),
            ))
        })
        .await
    }
}

/// Asks the lazy producer to relay what is pending.
async fn relay_now(producer: &Instance) {
    let client = brigade_chassis::plain::PlainClient::new(Duration::from_secs(5));
    let answer = client
        .send(
            http::Method::POST,
            &format!("{}/v1/relay", producer.url()),
            None,
        )
        .await
        .expect("relay answer");
    assert_eq!(answer.status, http::StatusCode::NO_CONTENT);
}

/// Short pauses so that the suite's retries and redeliveries happen within seconds.
fn fast(ctx: &mut brigade_chassis::service::Context) {
    let options = ctx.events_options_mut();
    options.retry_backoff = Duration::from_millis(20);
    options.ack_wait = Duration::from_secs(1);
    options.max_attempts = 3;
}

fn ticks(accounts: &[&str], per_account: i64) -> Vec<Ticked> {
    let mut all = Vec::new();
    for n in 1..=per_account {
        for account in accounts {
            all.push(Ticked::new(account, n));
        }
    }
    all
}

/// Every event applied exactly once, and each account's ticks in order.
/// Stops `instances`, in order.
async fn stop<const N: usize>(instances: [Instance; N]) {
    for instance in instances {
        instance.stop().await.expect("instance stops");
    }
}

fn assert_once_in_order(effects: &[(String, String, i64)], expected: &[Envelope]) {
    let mut ids: Vec<&str> = effects.iter().map(|e| e.0.as_str()).collect();
    ids.sort_unstable();
    let mut want: Vec<&str> = expected.iter().map(|e| e.id.as_str()).collect();
    want.sort_unstable();
    assert_eq!(ids, want, "every event applied exactly once");
    let mut last: std::collections::HashMap<&str, i64> = Default::default();
    for (_, account, n) in effects {
        let previous = last.insert(account.as_str(), *n).unwrap_or(0);
        assert!(
            *n > previous,
            "{account}: tick {n} applied after tick {previous}"
        );
    }
}

async fn parked(consumer: &Instance) -> ParkedList {
    let client = brigade_chassis::plain::PlainClient::new(Duration::from_secs(5));
    client
        .get_json(&format!("{}/v1/events/parked", consumer.url()))
        .await
        .expect("parked list")
}

async fn delivers_events_committed_before_the_relay_ran(transport: Transport) {
    let Some(world) = World::new(transport).await else {
        return;
    };
    // Committed while no producer instance runs: the relay has never seen them.
    let stored = world.commit(&ticks(&["a", "b", "c", "d"], 5)).await;
    let producer = world.start_producer().await;
    let consumer = world.start_consumer(&producer, |s| s).await;
    world.finish(&stored, [consumer, producer]).await;
}

async fn a_crash_between_effect_and_acknowledgement_repeats_no_effect(transport: Transport) {
    let Some(world) = World::new(transport).await else {
        return;
    };
    let producer = world.start_producer().await;
    // The consumer "dies" right after applying each account's third tick, the first time.
    let crashed = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let consumer = world
        .start_consumer(&producer, move |s| {
            s.crash_after_apply(move |envelope| {
                envelope.subjectseq == 3
                    && crashed
                        .lock()
                        .map(|mut seen| seen.insert(envelope.id.clone()))
                        .unwrap_or(false)
            })
        })
        .await;
    let stored = world.commit(&ticks(&["a", "b"], 6)).await;
    world.finish(&stored, [consumer, producer]).await;
}

async fn duplicates_are_ignored(transport: Transport) {
    let Some(world) = World::new(transport).await else {
        return;
    };
    let producer = world.start_producer().await;
    let consumer = world.start_consumer(&producer, |s| s).await;
    let stored = world.commit(&ticks(&["a", "b"], 3)).await;
    world.wait_for_effects(stored.len()).await;
    // A relay that died before recording what it had relayed relays it all again.
    let Db::Sqlite(db) = &world.producer_db else {
        unreachable!()
    };
    sqlx::query("UPDATE brigade_outbox SET position = NULL")
        .execute(db.pool())
        .await
        .expect("forget relaying");
    // And a broker that lost its memory of message ids (past JetStream's duplicate window)
    // delivers the same events once more.
    if let Some(url) = world.nats_url() {
        let client = async_nats::connect(url).await.expect("nats");
        let js = async_nats::jetstream::new(client);
        for event in &stored {
            let subject = format!("{}.ledger.{}", world.namespace(), event.event_type);
            js.publish(subject, serde_json::to_vec(event).expect("json").into())
                .await
                .expect("publish")
                .await
                .expect("stored");
        }
    }
    let more = world.commit(&ticks(&["c"], 1)).await;
    let effects = world.wait_for_effects(stored.len() + 1).await;
    let all: Vec<Envelope> = stored.into_iter().chain(more).collect();
    assert_once_in_order(&effects, &all);
    stop([consumer, producer]).await;
}

async fn order_per_subject_holds_with_two_consumer_instances(transport: Transport) {
    let Some(world) = World::new(transport).await else {
        return;
    };
    let producer = world.start_producer().await;
    let first = world.start_consumer(&producer, |s| s).await;
    let second = world.start_consumer(&producer, |s| s).await;
    let mut stored = Vec::new();
    for round in 0..10 {
        let batch: Vec<Ticked> = ticks(&["a", "b", "c", "d", "e"], 4)
            .into_iter()
            .map(|mut t| {
                t.n += round * 4;
                t
            })
            .collect();
        stored.extend(world.commit(&batch).await);
    }
    world.finish(&stored, [first, second, producer]).await;
}

/// Where a parked event of `consumer` is replayed.
fn replay_url(consumer: &Instance, id: &str) -> String {
    format!("{}/v1/events/parked/{id}/replay", consumer.url())
}

/// Asks `consumer` to replay the parked event `id` as the harness (a replay is an operator's):
/// its answer.
async fn replay_answer(
    client: &brigade_chassis::plain::PlainClient,
    consumer: &Instance,
    id: &str,
) -> brigade_chassis::plain::Answer {
    let token = brigade_chassis::testing::Harness::get()
        .token(brigade_chassis::testing::HARNESS, CONSUMER.name);
    let request = http::Request::post(replay_url(consumer, id))
        .header(brigade_chassis::identity::HEADER, token)
        .body(Default::default())
        .expect("a replay request");
    client.send_request(request).await.expect("replay answer")
}

/// The status of [`replay_answer`].
async fn replay(
    client: &brigade_chassis::plain::PlainClient,
    consumer: &Instance,
    id: &str,
) -> http::StatusCode {
    replay_answer(client, consumer, id).await.status
}

async fn a_poison_event_is_parked_without_blocking_and_replayed(transport: Transport) {
    let Some(world) = World::new(transport).await else {
        return;
    };
    let producer = world.start_producer().await;
    let consumer = world.start_consumer(&producer, |s| s).await;
    let poison = |account: &str, n: i64| Ticked {
        account: account.to_owned(),
        n,
        poison: true,
    };
    let plain = Ticked::new;
    let stored = world
        .commit(&[
            plain("a", 1),
            poison("a", 2),
            plain("b", 1),
            plain("a", 3),
            plain("b", 2),
        ])
        .await;
    // a1, b1 and b2 flow; a2 fails and is parked; a3 waits behind it.
    let effects = world.wait_for_effects(3).await;
    assert_eq!(effects.len(), 3, "{effects:?}");
    let list = parked(&consumer).await;
    assert_eq!(list.service, "tally");
    let ids: Vec<&str> = list.items.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids.len(), 2, "{:?}", list.items);
    let poisoned = list
        .items
        .iter()
        .find(|p| p.id == stored[1].id)
        .expect("a2 parked");
    assert!(poisoned.error.contains("poisoned"), "{poisoned:?}");
    assert!(poisoned.attempts >= 3, "{poisoned:?}");
    let held = list
        .items
        .iter()
        .find(|p| p.id == stored[3].id)
        .expect("a3 held");
    assert_eq!(held.held_behind.as_deref(), Some(stored[1].id.as_str()));

    let client = brigade_chassis::plain::PlainClient::new(Duration::from_secs(5));
    // The held event cannot jump the queue.
    let early = replay(&client, &consumer, &stored[3].id).await;
    assert_eq!(early, http::StatusCode::CONFLICT);
    // Still failing: 409, stays parked.
    let again = replay(&client, &consumer, &stored[1].id).await;
    assert_eq!(again, http::StatusCode::CONFLICT);
    let unknown = replay(&client, &consumer, "no-such-event").await;
    assert_eq!(unknown, http::StatusCode::NOT_FOUND);

    // Nobody may: a replay without an identity is refused.
    let anonymous = client
        .send(
            http::Method::POST,
            &replay_url(&consumer, &stored[1].id),
            None,
        )
        .await
        .expect("replay answer");
    assert_eq!(anonymous.status, http::StatusCode::UNAUTHORIZED);

    world.cured.store(true, Ordering::SeqCst);
    let answer = replay_answer(&client, &consumer, &stored[1].id).await;
    assert_eq!(answer.status, http::StatusCode::OK);
    let replayed: Replayed = serde_json::from_slice(&answer.body).expect("replayed");
    assert_eq!(
        replayed.replayed,
        vec![stored[1].id.clone(), stored[3].id.clone()]
    );
    assert_eq!(replayed.still_parked, 0);
    let effects = world.wait_for_effects(5).await;
    assert_once_in_order(&effects, &stored);
    assert!(parked(&consumer).await.items.is_empty());
    consumer.stop().await.expect("consumer stops");
    producer.stop().await.expect("producer stops");
}

async fn a_consumer_that_was_down_catches_up(transport: Transport) {
    let Some(world) = World::new(transport).await else {
        return;
    };
    let producer = world.start_producer().await;
    let consumer = world.start_consumer(&producer, |s| s).await;
    let mut stored = world.commit(&ticks(&["a"], 5)).await;
    world.wait_for_effects(5).await;
    consumer.stop().await.expect("consumer stops");
    for round in 0..10 {
        let batch: Vec<Ticked> = ticks(&["a", "b"], 10)
            .into_iter()
            .map(|mut t| {
                if t.account == "a" {
                    t.n += 5 + round * 10;
                } else {
                    t.n += round * 10;
                }
                t
            })
            .collect();
        stored.extend(world.commit(&batch).await);
    }
    let consumer = world.start_consumer(&producer, |s| s).await;
    world.finish(&stored, [consumer, producer]).await;
}

async fn the_outbox_and_consumer_metrics_follow_the_events(transport: Transport) {
    let Some(world) = World::new(transport).await else {
        return;
    };
    const PENDING: &str = "brigade_outbox_pending_events";
    const AGE: &str = "brigade_outbox_oldest_pending_age_seconds";
    const PUBLISHED: &str = "brigade_outbox_published_events_total";
    const LAG: &str = "brigade_consumer_lag_events{subscription=\"tally-ledger\"}";
    const APPLIED: &str = "brigade_consumer_applied_events_total{subscription=\"tally-ledger\"}";
    const FAILED: &str = "brigade_consumer_failed_deliveries_total{subscription=\"tally-ledger\"}";
    const PARKED: &str = "brigade_consumer_parked_events{subscription=\"tally-ledger\"}";
    let producer = world.start_lazy_producer().await;
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let record = Record {
        cured: world.cured.clone(),
    };
    let held = gate.clone();
    let consumer = world
        .start_consumer(&producer, move |s| {
            s.on::<Ticked, _>(Gated { gate: held, record })
        })
        .await;

    // Committed, not relayed: pending, and as old as they are.
    let mut stored = world.commit(&ticks(&["a"], 3)).await;
    let before = producer.metrics().await;
    assert_eq!(sample(&before, PENDING), Some(3.0), "{before}");
    assert!(
        sample(&before, AGE).is_some_and(|age| age > 0.0),
        "{before}"
    );
    assert_eq!(sample(&before, PUBLISHED), Some(0.0), "{before}");

    // Relayed: none pending, three published.
    relay_now(&producer).await;
    // The store stops counting them as pending as the relay marks them, a moment before the
    // relay counts them published: wait for both.
    wait_for_sample(&producer, PUBLISHED, |v| v == 3.0).await;
    let after = wait_for_sample(&producer, PENDING, |v| v == 0.0).await;
    assert_eq!(sample(&after, AGE), Some(0.0), "{after}");
    assert_eq!(sample(&after, PUBLISHED), Some(3.0), "{after}");

    // The consumer holds the first event: it is behind the producer by the other two at least
    // (the feed's page counts all three, JetStream the ones after the one being handled).
    let behind = wait_for_sample(&consumer, LAG, |lag| lag >= 2.0).await;
    assert_eq!(sample(&behind, APPLIED), Some(0.0), "{behind}");
    gate.add_permits(1_000);
    world.wait_for_effects(3).await;
    let caught_up = wait_for_sample(&consumer, LAG, |lag| lag == 0.0).await;
    assert_eq!(sample(&caught_up, APPLIED), Some(3.0), "{caught_up}");
    assert_eq!(sample(&caught_up, FAILED), Some(0.0), "{caught_up}");
    assert_eq!(sample(&caught_up, PARKED), Some(0.0), "{caught_up}");

    // A poison event fails each of its attempts, then is parked.
    let poison = Ticked {
        account: "a".to_owned(),
        n: 4,
        poison: true,
    };
    stored.extend(world.commit(&[poison]).await);
    relay_now(&producer).await;
    let parked_now = wait_for_sample(&consumer, PARKED, |parked| parked == 1.0).await;
    assert_eq!(sample(&parked_now, FAILED), Some(3.0), "{parked_now}");
    assert_eq!(sample(&parked_now, APPLIED), Some(3.0), "{parked_now}");
    assert_eq!(parked(&consumer).await.items[0].id, stored[3].id);
    wait_for_sample(&consumer, LAG, |lag| lag == 0.0).await;
    stop([consumer, producer]).await;
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Transport::Embedded).await;
                }
            )*
        }
        mod nats {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Transport::Nats).await;
                }
            )*
        }
    };
}

conformance!(
    delivers_events_committed_before_the_relay_ran,
    a_crash_between_effect_and_acknowledgement_repeats_no_effect,
    duplicates_are_ignored,
    order_per_subject_holds_with_two_consumer_instances,
    a_poison_event_is_parked_without_blocking_and_replayed,
    a_consumer_that_was_down_catches_up,
    the_outbox_and_consumer_metrics_follow_the_events,
);
