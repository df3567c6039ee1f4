//! Subscriptions: which events a service reacts to, and how.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::envelope::{type_name, Envelope, Event};
use crate::db::Tx;
use crate::BoxError;

/// Why a handler did not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event cannot be applied however often it is tried (an unreadable payload, a schema
    /// version this build does not know): it is parked at once.
    #[error("{0}")]
    Permanent(String),
    /// Applying failed this time; it is tried again, and parked after the attempts run out.
    #[error("{0}")]
    Failed(BoxError),
}

impl HandlerError {
    pub fn failed(error: impl Into<BoxError>) -> HandlerError {
        HandlerError::Failed(error.into())
    }
}

/// Applies events of type `E` inside the consumer's transaction. Everything the effect writes
/// goes through `tx`, which also records that the event was applied: both commit or neither.
///
/// Implementations write `async fn handle(&self, tx: &mut Tx, event: E, envelope: &Envelope)`;
/// the chassis boxes the future where it stores handlers of many types side by side.
pub trait Handle<E: Event>: Send + Sync + 'static {
    fn handle(
        &self,
        tx: &mut Tx,
        event: E,
        envelope: &Envelope,
    ) -> impl Future<Output = Handled> + Send;
}

/// What a handler answers: applied, or why not.
pub type Handled = Result<(), HandlerError>;

/// A typed handler with the payload decoding in front of it.
trait Erased: Send + Sync {
    fn handle<'a>(
        &'a self,
        tx: &'a mut Tx,
        envelope: &'a Envelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>>;
}

struct Typed<E, H> {
    handler: H,
    _event: std::marker::PhantomData<fn() -> E>,
}

impl<E: Event, H: Handle<E>> Erased for Typed<E, H> {
    fn handle<'a>(
        &'a self,
        tx: &'a mut Tx,
        envelope: &'a Envelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        match envelope.decode::<E>() {
            Ok(event) => Box::pin(self.handler.handle(tx, event, envelope)),
            Err(reason) => Box::pin(async move { Err(HandlerError::Permanent(reason)) }),
        }
    }
}

/// The events of one producing service that this service reacts to. Events of that producer
/// whose type has no handler are skipped (and counted as applied, so per-subject order holds).
#[derive(Clone)]
pub struct Subscription {
    source: String,
    handlers: HashMap<String, Arc<dyn Erased>>,
    crash_after: Option<CrashHook>,
}

type CrashHook = Arc<dyn Fn(&Envelope) -> bool + Send + Sync>;

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("source", &self.source)
            .field("types", &self.handlers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Subscription {
    /// Events from the service `source`.
    pub fn new(source: &str) -> Subscription {
        Subscription {
            source: source.to_owned(),
            handlers: HashMap::new(),
            crash_after: None,
        }
    }

    /// Test hook: after applying an event for which `crash` answers true, the consumer behaves
    /// as if its process died before acknowledging it (the delivery is repeated, the effect
    /// must not be).
    #[doc(hidden)]
    pub fn crash_after_apply(
        mut self,
        crash: impl Fn(&Envelope) -> bool + Send + Sync + 'static,
    ) -> Subscription {
        self.crash_after = Some(Arc::new(crash));
        self
    }

    pub(crate) fn crashes_after(&self, envelope: &Envelope) -> bool {
        self.crash_after
            .as_ref()
            .is_some_and(|crash| crash(envelope))
    }

    /// Applies events of type `E` (which must come from this subscription's source) with
    /// `handler`.
    pub fn on<E: Event, H: Handle<E>>(mut self, handler: H) -> Subscription {
        debug_assert_eq!(E::SOURCE, self.source, "an event type from another source");
        self.handlers.insert(
            type_name(E::SOURCE, E::NAME),
            Arc::new(Typed {
                handler,
                _event: std::marker::PhantomData,
            }),
        );
        self
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The event types some handler takes, comma-separated (the feed's `types` filter).
    pub fn types(&self) -> String {
        let mut types: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        types.sort_unstable();
        types.join(",")
    }

    /// Whether some handler takes events of this type.
    pub fn handles(&self, event_type: &str) -> bool {
        self.handlers.contains_key(event_type)
    }

    /// Runs the handler for the envelope's type; `Ok(false)` when there is none.
    pub(crate) async fn dispatch(
        &self,
        tx: &mut Tx,
        envelope: &Envelope,
    ) -> Result<bool, HandlerError> {
        match self.handlers.get(&envelope.event_type) {
            Some(handler) => handler.handle(tx, envelope).await.map(|()| true),
            None => Ok(false),
        }
    }
}

/// Every subscription of one service, by source (for replays).
#[derive(Debug, Clone, Default)]
pub struct Consumers {
    by_source: HashMap<String, Subscription>,
}

impl Consumers {
    pub fn add(&mut self, subscription: Subscription) {
        self.by_source
            .insert(subscription.source.clone(), subscription);
    }

    pub fn get(&self, source: &str) -> Option<&Subscription> {
        self.by_source.get(source)
    }

    pub fn is_empty(&self) -> bool {
        self.by_source.is_empty()
    }
}
