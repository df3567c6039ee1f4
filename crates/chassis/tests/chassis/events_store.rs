//! The outbox and inbox on both backends, with concurrency between instances of one service:
//! positions follow commit order, and one event is applied once however many appliers race.

use std::sync::Arc;

use brigade_chassis::db::{migrate, Db};
use brigade_chassis::db::{Query, Tx};
use brigade_chassis::events::{
    self, ApplyOutcome, Envelope, Handle, Handled, HandlerError, Inbox, Outbox, Relay, Subscription,
};

use crate::support::{record_effect, Ticked, EFFECTS};

struct Count;

impl Handle<Ticked> for Count {
    async fn handle(&self, tx: &mut Tx, event: Ticked, envelope: &Envelope) -> Handled {
        record_effect(tx, &event, envelope).await
    }
}

async fn outbox_numbers_subjects_and_positions_follow_commits(db: Db) {
    migrate(&db, &[events::OUTBOX_MIGRATION])
        .await
        .expect("migrate");
    let outbox = Outbox::new();
    // Eight writers commit concurrently, each through its own pool, as instances would.
    let mut writers = Vec::new();
    for w in 0..8 {
        let db = db.another_pool(2).await.expect("pool");
        let outbox = outbox.clone();
        writers.push(tokio::spawn(async move {
            for n in 0..10 {
                let mut tx = db.begin_write().await.expect("begin");
                let tick = Ticked::new(&format!("w{w}"), n);
                outbox.append(tx.conn(), &tick).await.expect("append");
                tx.commit().await.expect("commit");
            }
        }));
    }
    // Two relays position while the writers write.
    let relays: Vec<Relay> = (0..2)
        .map(|_| Relay::embedded(db.clone(), outbox.clone(), events::Options::default()))
        .collect();
    let relaying = {
        let relays = relays.clone();
        tokio::spawn(async move {
            for _ in 0..50 {
                for relay in &relays {
                    relay.relay_once().await.expect("relay");
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
    };
    for writer in writers {
        writer.await.expect("writer");
    }
    relaying.await.expect("relaying");
    while relays[0].relay_once().await.expect("relay") > 0 {}

    let stored = events::stored_events(&db).await.expect("stored");
    assert_eq!(stored.len(), 80);
    for w in 0..8 {
        let seqs: Vec<i64> = stored
            .iter()
            .filter(|e| e.subject == format!("w{w}"))
            .map(|e| e.subjectseq)
            .collect();
        assert_eq!(seqs, (1..=10).collect::<Vec<_>>(), "subject w{w}");
    }
    let positions: Vec<(i64,)> = Query::new(
        "SELECT position FROM brigade_outbox WHERE position IS NOT NULL ORDER BY position",
    )
    .fetch_all::<(i64,)>(&db)
    .await
    .expect("positions");
    let positions: Vec<i64> = positions.into_iter().map(|p| p.0).collect();
    assert_eq!(
        positions,
        (1..=80).collect::<Vec<_>>(),
        "every event positioned once, no gaps"
    );
}

async fn racing_appliers_apply_once(db: Db) {
    migrate(&db, &[events::INBOX_MIGRATION, EFFECTS])
        .await
        .expect("migrate");
    let subscription = Arc::new(Subscription::new("ledger").on::<Ticked, _>(Count));
    let envelopes: Vec<Envelope> = (1..=20)
        .map(|n| Envelope::of(&Ticked::new("a", n), n).expect("envelope"))
        .collect();
    let envelopes = Arc::new(envelopes);
    let mut appliers = Vec::new();
    for _ in 0..4 {
        let inbox = Inbox::new(db.another_pool(2).await.expect("pool"));
        let subscription = subscription.clone();
        let envelopes = envelopes.clone();
        appliers.push(tokio::spawn(async move {
            let mut applied = 0;
            let mut i = 0;
            while i < envelopes.len() {
                match inbox.apply(&subscription, &envelopes[i], None).await {
                    Ok(ApplyOutcome::Applied) => {
                        applied += 1;
                        i += 1;
                    }
                    Ok(ApplyOutcome::Duplicate) => i += 1,
                    Ok(ApplyOutcome::OutOfOrder { .. }) => tokio::task::yield_now().await,
                    Ok(other) => panic!("unexpected {other:?}"),
                    // Two PostgreSQL transactions inserting the same subject row: the loser
                    // sees a conflict or serialisation failure and tries again.
                    Err(_) => tokio::task::yield_now().await,
                }
            }
            applied
        }));
    }
    let mut total = 0;
    for applier in appliers {
        total += applier.await.expect("applier");
    }
    assert_eq!(total, 20, "each event applied by exactly one applier");
    let rows: Vec<(i64,)> = Query::new("SELECT n FROM effects ORDER BY n")
        .fetch_all::<(i64,)>(&db)
        .await
        .expect("effects");
    assert_eq!(
        rows.into_iter().map(|r| r.0).collect::<Vec<_>>(),
        (1..=20).collect::<Vec<_>>()
    );
}

async fn unknown_schema_version_is_refused_for_parking(db: Db) {
    migrate(&db, &[events::INBOX_MIGRATION, EFFECTS])
        .await
        .expect("migrate");
    let subscription = Subscription::new("ledger").on::<Ticked, _>(Count);
    let inbox = Inbox::new(db.clone());
    let mut envelope = Envelope::of(&Ticked::new("a", 1), 1).expect("envelope");
    envelope.schemaversion = 2;
    let outcome = inbox.apply(&subscription, &envelope, None).await;
    assert!(
        matches!(&outcome, Err(events::ApplyError::Handler(HandlerError::Permanent(m))) if m.contains("schema version 2")),
        "{outcome:?}"
    );
    inbox
        .park(&envelope, None, "schema version 2", 1)
        .await
        .expect("park");
    let parked = inbox.parked().await.expect("parked");
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].id, envelope.id);
    // An event of another type from the source, without a handler, is recorded as seen.
    let mut other = Envelope::of(&Ticked::new("b", 1), 1).expect("envelope");
    other.event_type = "brigade.ledger.Closed".into();
    assert_eq!(
        inbox
            .apply(&subscription, &other, None)
            .await
            .expect("apply"),
        ApplyOutcome::Skipped
    );
    assert_eq!(
        inbox
            .apply(&subscription, &other, None)
            .await
            .expect("apply"),
        ApplyOutcome::Duplicate
    );
}

/// The store-read metrics on both engines: the outbox backlog before and after a relay, and a
/// consumer's applied, failed and parked counts.
async fn the_outbox_backlog_and_the_parked_count_are_read_from_the_store(db: Db) {
    migrate(
        &db,
        &[events::OUTBOX_MIGRATION, events::INBOX_MIGRATION, EFFECTS],
    )
    .await
    .expect("migrate");
    let metrics = brigade_chassis::metrics::Metrics::new();
    let events = &metrics.events;
    let outbox = Outbox::new();
    let relay =
        Relay::embedded(db.clone(), outbox.clone(), events::Options::default()).measured(events);
    let mut tx = db.begin_write().await.expect("begin");
    for n in 1..=2 {
        outbox
            .append(tx.conn(), &Ticked::new("a", n))
            .await
            .expect("append");
    }
    tx.commit().await.expect("commit");

    relay.refresh_backlog(events).await.expect("backlog");
    assert_eq!(events.outbox_pending.get(), 2);
    assert!(events.outbox_oldest_pending_age.get() > 0.0);
    assert_eq!(events.outbox_published.get(), 0);
    assert_eq!(relay.relay_once().await.expect("relay"), 2);
    relay.refresh_backlog(events).await.expect("backlog");
    assert_eq!(events.outbox_pending.get(), 0);
    assert_eq!(events.outbox_oldest_pending_age.get(), 0.0);
    assert_eq!(events.outbox_published.get(), 2);

    let consumer = events.consumer("tally-ledger");
    let inbox = Inbox::new(db.clone()).measured(consumer.clone());
    let subscription = Subscription::new("ledger").on::<Ticked, _>(Count);
    let stored = events::stored_events(&db).await.expect("stored");
    let outcome = inbox.apply(&subscription, &stored[0], None).await;
    assert_eq!(outcome.expect("applied"), ApplyOutcome::Applied);
    let mut unreadable = stored[1].clone();
    unreadable.schemaversion = 9;
    assert!(inbox.apply(&subscription, &unreadable, None).await.is_err());
    inbox
        .park(&unreadable, None, "schema version 9", 1)
        .await
        .expect("park");
    inbox.refresh_parked("ledger").await.expect("parked");
    assert_eq!(
        (consumer.applied.get(), consumer.failed.get()),
        (1, 1),
        "applied, failed"
    );
    assert_eq!(consumer.parked.get(), 1);
    inbox.refresh_parked("another").await.expect("parked");
    assert_eq!(consumer.parked.get(), 0, "parked events of another source");
}

brigade_chassis::store_suite!(
    the_outbox_backlog_and_the_parked_count_are_read_from_the_store,
    outbox_numbers_subjects_and_positions_follow_commits,
    racing_appliers_apply_once,
    unknown_schema_version_is_refused_for_parking,
);
