//! The simulated card processor: charges at most once per idempotency key and per order, settles
//! slow charges, refunds. Input is checked here with `payments-api`'s rules, so that every way in
//! (HTTP, tests) gets the same answers.

use std::time::Duration;

use brigade_chassis::service::Background;
// Wall-clock milliseconds: charge times are shown to people and compared across instances.
use brigade_chassis::time::now_ms;
use payments_api::{
    check_idempotency_key, Charge, ChargeRequest, ChargeStatus, RefundRequest, ValidationError,
};
use tokio::time::Instant;
use uuid::Uuid;

use crate::card::{self, Verdict};
use crate::store::{self, NewCharge, Recorded, Store, StoredCharge};

/// How often a request waiting for a pending charge looks at it again.
const POLL_INTERVAL: Duration = Duration::from_millis(25);
/// How much of a caller's deadline is kept for answering, after waiting for a pending charge.
const ANSWER_MARGIN: Duration = Duration::from_millis(250);
/// How long past its due time a pending charge is waited for when the caller has no deadline.
const SETTLE_SLACK: Duration = Duration::from_secs(1);
/// How often each instance looks for pending charges that nobody is settling (their request's
/// instance stopped mid-wait).
pub const RECOVERY_INTERVAL: Duration = Duration::from_secs(1);
/// How many due charges one recovery pass settles.
const RECOVERY_BATCH: i64 = 100;

/// What a charge request got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charged {
    pub charge: Charge,
    /// True when this request made the charge; false when it repeats an earlier one.
    pub created: bool,
}

/// Why a charge was not made.
#[derive(Debug, thiserror::Error)]
pub enum ChargeError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("the idempotency key belongs to charge {charge_id}, made with a different request")]
    KeyReused { charge_id: Uuid },
    #[error("order {order_id} already has charge {charge_id}, which is {status}")]
    AlreadyCharged {
        order_id: Uuid,
        charge_id: Uuid,
        status: ChargeStatus,
    },
    #[error("the card processor failed; nothing was charged")]
    ProcessorFailed,
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("settling the pending charge failed: {0}")]
    Settlement(String),
}

/// Why a refund was not made.
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Refused(#[from] store::RefundError),
}

/// The processor. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Processor {
    store: Store,
    slow_card_delay: Duration,
}

impl Processor {
    /// `slow_card_delay`: how long the slow test card stays pending.
    pub fn new(store: Store, slow_card_delay: Duration) -> Processor {
        Processor {
            store,
            slow_card_delay,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Charges the card in `request` once for `idempotency_key`. A repeat of the same request
    /// returns the same charge (waiting a while for a pending one to settle); the same key with
    /// another request, or another key for an order that has a live charge, is refused.
    pub async fn charge(
        &self,
        idempotency_key: &str,
        request: &ChargeRequest,
    ) -> Result<Charged, ChargeError> {
        check_idempotency_key(idempotency_key)?;
        request.validate()?;
        let fingerprint = card::fingerprint(&request.card_number);
        let now = now_ms();
        let (status, decline_code, settle_at_ms) = match card::verdict(&request.card_number) {
            Verdict::Approve => (ChargeStatus::Captured, None, None),
            Verdict::Decline(code) => (ChargeStatus::Declined, Some(code), None),
            Verdict::ApproveSlowly => {
                let delay = i64::try_from(self.slow_card_delay.as_millis()).unwrap_or(i64::MAX);
                (ChargeStatus::Pending, None, Some(now.saturating_add(delay)))
            }
            Verdict::Fail => {
                return self
                    .processor_failed(idempotency_key, request, &fingerprint)
                    .await
            }
        };
        let new = NewCharge {
            id: Uuid::new_v4(),
            idempotency_key,
            order_id: request.order_id,
            amount_minor: request.amount_minor,
            currency: &request.currency,
            card_last4: card::last4(&request.card_number),
            card_fingerprint: &fingerprint,
            status,
            decline_code,
            settle_at_ms,
            now_ms: now,
        };
        match self.store.record_charge(&new).await? {
            Recorded::Inserted(charge) => {
                let charge = match settle_at_ms {
                    Some(at) => self.settle_when_due(charge, at).await?,
                    None => charge,
                };
                Ok(Charged {
                    charge,
                    created: true,
                })
            }
            Recorded::KeyTaken(stored) => self.repeat(stored, request, &fingerprint).await,
            Recorded::OrderHeld(live) => Err(already_charged(&live)),
        }
    }

    /// The processor failed, so nothing is recorded; but a request that would have been refused
    /// (or answered from an earlier charge) gets that answer, as with any other card.
    async fn processor_failed(
        &self,
        idempotency_key: &str,
        request: &ChargeRequest,
        fingerprint: &str,
    ) -> Result<Charged, ChargeError> {
        if let Some(stored) = self.store.charge_by_key(idempotency_key).await? {
            return self.repeat(stored, request, fingerprint).await;
        }
        if let Some(live) = self.store.live_charge_for_order(request.order_id).await? {
            return Err(already_charged(&live));
        }
        Err(ChargeError::ProcessorFailed)
    }

    /// The answer to a request whose key names `stored`.
    async fn repeat(
        &self,
        stored: StoredCharge,
        request: &ChargeRequest,
        fingerprint: &str,
    ) -> Result<Charged, ChargeError> {
        let made = &stored.charge;
        let same_request = made.order_id == request.order_id
            && made.amount_minor == request.amount_minor
            && made.currency == request.currency
            && stored.card_fingerprint == fingerprint;
        if !same_request {
            return Err(ChargeError::KeyReused { charge_id: made.id });
        }
        let charge = self.await_outcome(stored).await?;
        Ok(Charged {
            charge,
            created: false,
        })
    }

    /// Settles the pending charge this request made once it is due, in a task of its own so
    /// that it completes even when the request is abandoned (its caller's deadline passed). The
    /// request waits for it within its own deadline, then answers with the charge as it is.
    async fn settle_when_due(
        &self,
        charge: Charge,
        settle_at_ms: i64,
    ) -> Result<Charge, ChargeError> {
        let store = self.store.clone();
        let id = charge.id;
        // In the request's trace, so that the events of the settlement carry it.
        let mut settling = tokio::spawn(brigade_chassis::context::detached(async move {
            loop {
                let wait = settle_at_ms.saturating_sub(now_ms());
                if wait > 0 {
                    tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
                }
                match store.settle(id, now_ms()).await {
                    // Not due yet by the wall clock, which the timer does not follow exactly.
                    Ok(Some(stored)) if stored.charge.status == ChargeStatus::Pending => {
                        tokio::time::sleep(POLL_INTERVAL).await;
                    }
                    other => return other,
                }
            }
        }));
        match tokio::time::timeout(self.wait_budget(), &mut settling).await {
            Ok(Ok(Ok(Some(stored)))) => Ok(stored.charge),
            // The charge was inserted by this very request; it cannot be gone.
            Ok(Ok(Ok(None))) => Err(ChargeError::Settlement(format!("charge {id} vanished"))),
            Ok(Ok(Err(e))) => Err(e.into()),
            Ok(Err(e)) => Err(ChargeError::Settlement(e.to_string())),
            // Still pending: the task carries on; a repeat of the request will find it settled.
            Err(_) => Ok(charge),
        }
    }

    /// `stored` as it is once settled, or as it is when this request may wait no longer. A due
    /// charge is settled by whoever sees it first, so that one whose request's instance stopped
    /// mid-wait is not left pending.
    async fn await_outcome(&self, stored: StoredCharge) -> Result<Charge, ChargeError> {
        let give_up = Instant::now() + self.wait_budget();
        let mut current = stored;
        loop {
            if current.charge.status != ChargeStatus::Pending {
                return Ok(current.charge);
            }
            let now = now_ms();
            if current.settle_at_ms.is_some_and(|at| at <= now) {
                if let Some(settled) = self.store.settle(current.charge.id, now).await? {
                    current = settled;
                    if current.charge.status != ChargeStatus::Pending {
                        return Ok(current.charge);
                    }
                }
            }
            if Instant::now() + POLL_INTERVAL >= give_up {
                return Ok(current.charge);
            }
            tokio::time::sleep(POLL_INTERVAL).await;
            if let Some(fresh) = self.store.charge(current.charge.id).await? {
                current = fresh;
            }
        }
    }

    /// How long a request may wait for a pending charge: until just before its caller's deadline,
    /// and never much longer than a slow charge takes.
    fn wait_budget(&self) -> Duration {
        let longest = self.slow_card_delay + SETTLE_SLACK;
        match brigade_chassis::context::current() {
            Some(context) => context
                .remaining()
                .saturating_sub(ANSWER_MARGIN)
                .min(longest),
            None => longest,
        }
    }

    /// Refunds the charge `id` in full; see [`Store::refund`].
    pub async fn refund(
        &self,
        id: Uuid,
        idempotency_key: Option<&str>,
        request: &RefundRequest,
    ) -> Result<Charge, RefundError> {
        if let Some(key) = idempotency_key {
            check_idempotency_key(key)?;
        }
        request.validate()?;
        let charge = self
            .store
            .refund(id, idempotency_key, request.reason.as_deref(), now_ms())
            .await?;
        Ok(charge)
    }

    /// Settles every pending charge that is due, and returns how many it looked at.
    pub async fn settle_due_charges(&self) -> Result<usize, store::Error> {
        let due = self.store.due_charges(now_ms(), RECOVERY_BATCH).await?;
        for id in &due {
            self.store.settle(*id, now_ms()).await?;
        }
        Ok(due.len())
    }

    /// Settles due charges at once and then every [`RECOVERY_INTERVAL`] until the instance
    /// stops (the chassis stops its background tasks before it closes the store).
    pub fn recover_pending_charges(&self, background: &Background) {
        let processor = self.clone();
        background.spawn_periodic("pending charges recovery", RECOVERY_INTERVAL, move || {
            let processor = processor.clone();
            async move { processor.settle_due_charges().await }
        });
    }
}

fn already_charged(live: &Charge) -> ChargeError {
    ChargeError::AlreadyCharged {
        order_id: live.order_id,
        charge_id: live.id,
        status: live.status,
    }
}
