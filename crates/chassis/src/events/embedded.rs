//! The embedded transport's consumer: reads a producer's outbox feed through discovery.

use std::time::Duration;

use super::consumer::{HandlerError, Subscription};
use super::inbox::{ApplyError, ApplyOutcome, Inbox};
use super::wire::{FeedItem, FeedPage};
use super::Options;
use crate::client::ServiceClient;
use crate::shutdown::Stopping;

/// How long one feed request waits for new events (a long poll: one request per idle period
/// rather than a stream of empty answers).
const FEED_WAIT: Duration = Duration::from_secs(2);

/// The most events a consumer asks for at once.
const FEED_PAGE: usize = 100;

/// How long a consumer waits after a page that was not full before asking again. While events
/// flow steadily, the long poll would otherwise answer almost every event alone: a hop on both
/// sides (and a traced, logged request) per event and consumer. Waiting this long first lets one
/// request carry what arrived meanwhile; measured under `brigade load --mix checkout` at 200/s it
/// cuts the system's CPU per request by about 6 %. The first event after a quiet spell still
/// arrives at once (the long poll is answered when it is relayed); the ones following it wait
/// at most this long more.
const FEED_LINGER: Duration = Duration::from_millis(20);

/// Applies `subscription`'s events from the feed of its source until `stop`.
pub(crate) async fn consume(
    producer: ServiceClient,
    inbox: Inbox,
    subscription: Subscription,
    options: Options,
    mut stop: Stopping,
) {
    let source = subscription.source().to_owned();
    let types = subscription.types();
    let mut failures = 0;
    // Where to read from next, and what the store has recorded: events of other types are
    // skipped without a write each, and the position they reach is recorded now and then.
    let mut cursor: Option<(i64, i64)> = None;
    let mut recorded_at = tokio::time::Instant::now();
    while !stop.is_stopped() {
        let (after, stored) = match cursor {
            Some(cursor) => cursor,
            None => match inbox.cursor(&source).await {
                Ok(position) => (position, position),
                Err(error) => {
                    tracing::warn!(source, %error, "cannot read the consumer's position; trying again");
                    tokio::time::sleep(super::backoff(options.retry_backoff, 4)).await;
                    continue;
                }
            },
        };
        let path = format!(
            "{}?after={after}&limit={FEED_PAGE}&wait_ms={}&types={types}",
            crate::routes::EVENTS_FEED,
            FEED_WAIT.as_millis()
        );
        let page = producer.get_json::<FeedPage>(&path);
        let page = tokio::select! {
            () = stop.stopped() => return,
            page = page => page,
        };
        match page {
            Ok(page) => {
                failures = 0;
                // How far behind the producer's head (the page's last position) this consumer
                // is, counting down as the page is applied.
                let lag = &inbox.metrics().lag;
                let (mut after, mut stored) = (after, stored);
                lag.set(page.last_position.saturating_sub(after).max(0));
                let mut reread = false;
                for item in &page.events {
                    if stop.is_stopped() {
                        return;
                    }
                    if !apply(&inbox, &subscription, &options, item).await {
                        reread = true;
                        break;
                    }
                    after = item.position;
                    stored = item.position;
                    lag.set(page.last_position.saturating_sub(after).max(0));
                }
                if reread {
                    cursor = None;
                    continue;
                }
                after = after.max(page.scanned_to);
                lag.set(page.last_position.saturating_sub(after).max(0));
                if after > stored
                    && (after - stored >= 1000 || recorded_at.elapsed() >= RECORD_SKIPPED_EVERY)
                {
                    match inbox.skip_to(&source, after).await {
                        Ok(()) => {
                            stored = after;
                            recorded_at = tokio::time::Instant::now();
                        }
                        Err(error) => {
                            tracing::debug!(source, %error, "cannot record the position; later")
                        }
                    }
                }
                cursor = Some((after, stored));
                if page.events.len() < FEED_PAGE {
                    tokio::select! {
                        () = stop.stopped() => return,
                        () = tokio::time::sleep(FEED_LINGER) => {}
                    }
                }
            }
            Err(error) => {
                failures += 1;
                // The producer being down is normal in a system of independent services: its
                // events wait in its outbox.
                if failures == 1 || failures % 20 == 0 {
                    tracing::warn!(source, %error, "cannot read the event feed; trying again");
                }
                tokio::select! {
                    () = stop.stopped() => return,
                    () = tokio::time::sleep(super::backoff(options.retry_backoff, failures.min(6))) => {}
                }
            }
        }
    }
}

/// How often the position reached through skipped events is recorded (a restart re-reads at
/// most this much of the feed, writing nothing for it).
const RECORD_SKIPPED_EVERY: Duration = Duration::from_secs(5);

/// Applies one event, retrying and at last parking it. False when the loop should re-read the
/// feed from its stored position (the test crash hook).
async fn apply(
    inbox: &Inbox,
    subscription: &Subscription,
    options: &Options,
    item: &FeedItem,
) -> bool {
    let envelope = &item.event;
    let position = Some(item.position);
    let mut attempts = 0;
    let mut store_failures = 0;
    loop {
        let error = match inbox.apply(subscription, envelope, position).await {
            Ok(ApplyOutcome::OutOfOrder { last_applied }) => {
                attempts += 1;
                format!(
                    "an earlier event of subject {} (after {last_applied}) never arrived",
                    envelope.subject
                )
            }
            Ok(_) => return !subscription.crashes_after(envelope),
            Err(ApplyError::Handler(HandlerError::Permanent(error))) => {
                attempts = options.max_attempts;
                error
            }
            Err(ApplyError::Handler(error)) => {
                attempts += 1;
                error.to_string()
            }
            Err(ApplyError::Store(error)) => {
                store_failures += 1;
                tracing::warn!(event = %envelope.id, %error, "consumer store failed; trying again");
                tokio::time::sleep(super::backoff(options.retry_backoff, store_failures.min(6)))
                    .await;
                continue;
            }
        };
        if attempts >= options.max_attempts {
            match inbox.park(envelope, position, &error, attempts).await {
                Ok(()) => return true,
                Err(park_error) => {
                    tracing::warn!(event = %envelope.id, %park_error, "cannot park the event; trying again");
                    attempts -= 1;
                }
            }
        } else {
            tracing::warn!(event = %envelope.id, attempt = attempts, %error, "event failed; trying again");
        }
        tokio::time::sleep(super::backoff(options.retry_backoff, attempts)).await;
    }
}
