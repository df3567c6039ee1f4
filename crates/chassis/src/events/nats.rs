//! The JetStream transport: a stream per producer, a durable consumer per consuming service.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, stream, AckKind};
use futures_util::StreamExt;

use super::consumer::Subscription;
use super::envelope::Envelope;
use super::inbox::{ApplyError, ApplyOutcome, Inbox};
use super::{nats_subject, stream_name, subscription_name, Error, Options};
use crate::shutdown::Stopping;

/// How long JetStream remembers message ids to drop re-published duplicates. A relay that dies
/// between publishing and recording it republishes within seconds, well inside this window.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Deliveries after which JetStream gives up on a message. The consumer parks a failing event
/// long before (after `Options::max_attempts`); this bound only stops a consumer that cannot
/// even reach its own store from being fed one message for ever.
const MAX_DELIVER: i64 = 50;

/// A connection to NATS with JetStream, shared by a process's relays and consumers.
#[derive(Clone)]
pub struct Nats {
    js: jetstream::Context,
    namespace: String,
}

impl std::fmt::Debug for Nats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nats")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl Nats {
    /// Connects to the NATS server at `url`.
    pub async fn connect(url: &str, namespace: &str) -> Result<Nats, Error> {
        let client = async_nats::ConnectOptions::new()
            .name("brigade")
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(Error::nats)?;
        Ok(Nats {
            js: jetstream::new(client),
            namespace: namespace.to_owned(),
        })
    }

    /// The stream of `source`'s events, created when missing (producer and consumers both ask,
    /// whichever starts first).
    pub async fn stream(&self, source: &str) -> Result<stream::Stream, Error> {
        self.js
            .get_or_create_stream(stream::Config {
                name: stream_name(&self.namespace, source),
                subjects: vec![format!("{}.{source}.>", self.namespace)],
                storage: stream::StorageType::File,
                duplicate_window: DUPLICATE_WINDOW,
                ..Default::default()
            })
            .await
            .map_err(Error::nats)
    }

    /// Publishes `events` in order, each with its id as message id, and waits until JetStream
    /// has stored every one.
    pub async fn publish(&self, events: &[Envelope]) -> Result<(), Error> {
        let mut acks = Vec::with_capacity(events.len());
        for event in events {
            let payload = serde_json::to_vec(event)?;
            let ack = self
                .js
                .send_publish(
                    nats_subject(&self.namespace, &event.source, &event.event_type),
                    jetstream::message::PublishMessage::build()
                        .payload(payload.into())
                        .message_id(&event.id),
                )
                .await
                .map_err(Error::nats)?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await.map_err(Error::nats)?;
        }
        Ok(())
    }

    /// Applies `subscription`'s events as the durable consumer `consumer` until `stop`.
    pub async fn consume(
        &self,
        consumer: &str,
        inbox: Inbox,
        subscription: Subscription,
        options: Options,
        mut stop: Stopping,
    ) {
        let source = subscription.source().to_owned();
        let mut attempt = 0;
        loop {
            let run = self.consume_once(consumer, &inbox, &subscription, &options);
            tokio::select! {
                () = stop.stopped() => return,
                result = run => {
                    if let Err(error) = result {
                        attempt += 1;
                        tracing::warn!(%error, source, "JetStream consumer failed; reconnecting");
                    }
                }
            }
            tokio::select! {
                () = stop.stopped() => return,
                () = tokio::time::sleep(super::backoff(options.retry_backoff, attempt.min(6))) => {}
            }
        }
    }

    async fn consume_once(
        &self,
        consumer: &str,
        inbox: &Inbox,
        subscription: &Subscription,
        options: &Options,
    ) -> Result<(), Error> {
        let source = subscription.source();
        let stream = self.stream(source).await?;
        let durable = subscription_name(consumer, source);
        let consumer = stream
            .get_or_create_consumer(
                &durable,
                pull::Config {
                    durable_name: Some(durable.clone()),
                    deliver_policy: jetstream::consumer::DeliverPolicy::All,
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: options.ack_wait,
                    max_deliver: MAX_DELIVER,
                    // Every type of the source, also those without a handler: a subject's
                    // sequence numbers must arrive without gaps.
                    filter_subject: format!("{}.{source}.>", self.namespace),
                    ..Default::default()
                },
            )
            .await
            .map_err(Error::nats)?;
        let lag = &inbox.metrics().lag;
        lag.set(clamp(consumer.cached_info().num_pending));
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(100)
            .messages()
            .await
            .map_err(Error::nats)?;
        while let Some(message) = messages.next().await {
            let message = message.map_err(Error::nats)?;
            let (delivered, pending) = message
                .info()
                .map_or((1, None), |i| (i.delivered, Some(i.pending)));
            let delivered = delivered.max(1) as u32;
            // The stream's messages not yet delivered to this consumer (this one is being
            // handled): how far behind the producer's head it is.
            if let Some(pending) = pending {
                lag.set(clamp(pending));
            }
            let envelope = match Envelope::from_json(&message.payload) {
                Ok(envelope) => envelope,
                Err(error) => {
                    // Not an event at all: nothing to park it under, nothing to apply.
                    tracing::error!(%error, subject = %message.subject, "unreadable message on the events stream; dropped");
                    message.ack_with(AckKind::Term).await.map_err(Error::nats)?;
                    continue;
                }
            };
            let ack = match inbox.apply(subscription, &envelope, None).await {
                Ok(ApplyOutcome::OutOfOrder { .. }) => {
                    // Its predecessor is with another instance or on its way back: later.
                    AckKind::Nak(Some(Duration::from_millis(100)))
                }
                Ok(_) => AckKind::Ack,
                Err(ApplyError::Handler(super::HandlerError::Permanent(error))) => {
                    inbox.park(&envelope, None, &error, delivered).await?;
                    AckKind::Ack
                }
                Err(ApplyError::Handler(error)) if delivered >= options.max_attempts => {
                    inbox
                        .park(&envelope, None, &error.to_string(), delivered)
                        .await?;
                    AckKind::Ack
                }
                Err(ApplyError::Handler(error)) => {
                    tracing::warn!(event = %envelope.id, attempt = delivered, %error, "event failed; it will be delivered again");
                    AckKind::Nak(Some(super::backoff(options.retry_backoff, delivered)))
                }
                Err(ApplyError::Store(error)) => {
                    tracing::warn!(event = %envelope.id, %error, "consumer store failed; the event will be delivered again");
                    AckKind::Nak(Some(super::backoff(options.retry_backoff, delivered)))
                }
            };
            if subscription.crashes_after(&envelope) {
                // A test's stand-in for the process dying after the effect, before the ack.
                return Err(Error::Nats(
                    "simulated crash before the acknowledgement".into(),
                ));
            }
            message.ack_with(ack).await.map_err(Error::nats)?;
        }
        Ok(())
    }
}

/// A JetStream count as a gauge's value.
fn clamp(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}
