//! Driving one saga, by the instance holding its lease, from its persisted state to its end.
//!
//! Each turn reads the saga's state from the store, records the step's start, makes the one
//! call that state needs, and persists the outcome together with the next state before making
//! another call. A crash anywhere leaves a state from which repeating the same (idempotent)
//! call is correct; losing the lease stops the driver before its next write.

use std::time::Duration;

use orders_api::{CancelReason, OrderStatus};
use uuid::Uuid;

use super::charging::{self, AfterCharge};
use super::port::{Committed, Reserved, StepError, StockLine};
use super::{now_ms, Checkpoint, Saga};
use crate::store::{self, Begin, SagaRow, SagaState, Transition};

/// How a drive ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The saga reached its end; the order is confirmed or cancelled.
    Finished(OrderStatus),
    /// Another instance holds the saga now (or it was never ours): it drives it.
    LeaseLost,
    /// The store failed; the lease lapses and a recovery loop resumes the saga later.
    StoreFailed,
}

/// What one turn did.
enum Turn {
    /// The state moved on: take the next turn at once.
    Advanced,
    /// The state moved on to this one, whose step's start the same write recorded (and counted,
    /// for a charge): the next turn makes its call without a write first.
    Begun(SagaState),
    /// The outcome was unknown or the service unreachable: wait, then repeat.
    Retry,
    /// The saga is over.
    Finished(OrderStatus),
}

/// Why a drive stops before the saga's end.
enum Stop {
    LeaseLost,
    Store(store::Error),
}

impl From<store::Error> for Stop {
    fn from(e: store::Error) -> Stop {
        Stop::Store(e)
    }
}

/// Exponential backoff between repeats of a call.
struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max,
            next: first,
        }
    }

    fn reset(&mut self) {
        self.next = self.first;
    }

    fn next(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        wait
    }
}

impl Saga {
    /// Drives the saga of `order_id`, whose lease this instance holds, to its end, renewing
    /// the lease meanwhile. The saga calls no one once the order is confirmed: the cart empties
    /// itself of the ordered lines when it receives `OrderConfirmed`, written with the last step.
    pub async fn drive(&self, order_id: Uuid) -> Ended {
        let ended = tokio::select! {
            ended = self.run(order_id) => ended,
            () = self.keep_lease(order_id) => Ended::LeaseLost,
        };
        match ended {
            Ended::StoreFailed => {
                tracing::error!(order = %order_id, "the store failed while driving a saga; the recovery loop will resume it");
            }
            Ended::LeaseLost => {
                tracing::info!(order = %order_id, "lost the saga's lease; another instance drives it");
            }
            Ended::Finished(_) => {}
        }
        ended
    }

    /// Renews the lease at a third of its length; returns when it can no longer be renewed.
    async fn keep_lease(&self, order_id: Uuid) {
        let every = self.lease.duration / 3;
        loop {
            tokio::time::sleep(every).await;
            match self.store.renew(order_id, &self.lease, now_ms()).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    tracing::warn!(order = %order_id, error = %e, "cannot renew the saga's lease; stopping before it lapses");
                    return;
                }
            }
        }
    }

    async fn run(&self, order_id: Uuid) -> Ended {
        let mut backoff = Backoff::new(self.config.backoff, self.config.max_backoff);
        // The state whose step's start the last turn recorded, if any: only its very next turn
        // may count on it (a repeat after a failed call records its own start again).
        let mut begun: Option<SagaState> = None;
        loop {
            let row = match self.store.saga(order_id).await {
                Ok(Some(row)) => row,
                Ok(None) => {
                    tracing::error!(order = %order_id, "asked to drive the saga of an order that does not exist");
                    return Ended::StoreFailed;
                }
                Err(e) => {
                    tracing::error!(order = %order_id, error = %e, "cannot read the saga");
                    return Ended::StoreFailed;
                }
            };
            let begun_here = begun.take() == Some(row.state);
            let turn = match row.state {
                SagaState::Reserving => self.reserve(&row).await,
                SagaState::Charging => self.charge(&row, begun_here).await,
                SagaState::Committing => self.commit(&row, begun_here).await,
                SagaState::Releasing => self.release(&row).await,
                SagaState::Refunding => self.refund(&row).await,
                SagaState::Done => Ok(Turn::Finished(if row.cancel_reason.is_some() {
                    OrderStatus::Cancelled
                } else {
                    OrderStatus::Confirmed
                })),
            };
            match turn {
                Ok(Turn::Advanced) => backoff.reset(),
                Ok(Turn::Begun(state)) => {
                    backoff.reset();
                    begun = Some(state);
                }
                Ok(Turn::Retry) => tokio::time::sleep(backoff.next()).await,
                Ok(Turn::Finished(status)) => return Ended::Finished(status),
                Err(Stop::LeaseLost) => return Ended::LeaseLost,
                Err(Stop::Store(e)) => {
                    tracing::error!(order = %order_id, error = %e, "cannot persist the saga");
                    return Ended::StoreFailed;
                }
            }
        }
    }

    async fn record(
        &self,
        row: &SagaRow,
        step: &str,
        outcome: &str,
        detail: &str,
    ) -> Result<(), Stop> {
        if self
            .store
            .record(row.order_id, &self.lease, step, outcome, detail, now_ms())
            .await?
        {
            Ok(())
        } else {
            Err(Stop::LeaseLost)
        }
    }

    async fn advance(&self, row: &SagaRow, change: Transition) -> Result<Turn, Stop> {
        self.advance_into(row, change, None).await
    }

    /// [`Self::advance`], recording in the same write the start of the step the change leads
    /// into when `begin` is given.
    async fn advance_into(
        &self,
        row: &SagaRow,
        change: Transition,
        begin: Option<Begin>,
    ) -> Result<Turn, Stop> {
        let to = change.to;
        if !self
            .store
            .advance(row.order_id, &self.lease, &change, begin.as_ref(), now_ms())
            .await?
        {
            return Err(Stop::LeaseLost);
        }
        Ok(if begin.is_some() {
            Turn::Begun(to)
        } else {
            Turn::Advanced
        })
    }

    /// Records that a call's outcome is unknown, for a repeat after a wait.
    async fn retry_later(&self, row: &SagaRow, step: &str, error: &str) -> Result<Turn, Stop> {
        self.record(row, step, "error", error).await?;
        Ok(Turn::Retry)
    }

    async fn reserve(&self, row: &SagaRow) -> Result<Turn, Stop> {
        let lines: Vec<StockLine> = row
            .lines
            .iter()
            .map(|l| StockLine {
                sku: l.sku.clone(),
                quantity: l.quantity,
            })
            .collect();
        self.record(
            row,
            "reserve",
            "started",
            &format!("{} line(s)", lines.len()),
        )
        .await?;
        let cancel = |outcome: &str, detail: String| Transition {
            from: SagaState::Reserving,
            to: SagaState::Done,
            status: OrderStatus::Cancelled,
            charge_id: None,
            cancel_reason: Some(CancelReason::OutOfStock),
            decline_code: None,
            step: "reserve",
            outcome: outcome.to_owned(),
            detail,
        };
        match self.steps.reserve(row.order_id, &lines).await {
            Ok(Reserved::Held) => {
                let turn = self
                    .advance_into(
                        row,
                        Transition {
                            from: SagaState::Reserving,
                            to: SagaState::Charging,
                            status: OrderStatus::Pending,
                            charge_id: None,
                            cancel_reason: None,
                            decline_code: None,
                            step: "reserve",
                            outcome: "ok".to_owned(),
                            detail: "every line is held".to_owned(),
                        },
                        Some(charge_attempt(row)),
                    )
                    .await?;
                self.checkpoint(Checkpoint::Reserved);
                Ok(turn)
            }
            Ok(Reserved::OutOfStock(detail)) => {
                self.advance(row, cancel("out_of_stock", detail)).await
            }
            Err(StepError::Transient(e)) => self.retry_later(row, "reserve", &e).await,
            // A refusal for good (e.g. a SKU inventory does not know): the order cannot be
            // stocked, and nothing was reserved.
            Err(StepError::Rejected { code, detail }) => {
                self.advance(row, cancel("rejected", format!("{code}: {detail}")))
                    .await
            }
        }
    }

    /// Charges the order's total: gives up when the attempts or their time are spent, else
    /// counts the attempt (unless the write that led here counted it: `begun`), makes it, and
    /// carries out what its answer leads to ([`charging::after_charge`]).
    async fn charge(&self, row: &SagaRow, begun: bool) -> Result<Turn, Stop> {
        let Some(card_number) = row.card_number.as_deref() else {
            let detail = "the card number is no longer known".to_owned();
            let failed =
                charging::to_release(CancelReason::PaymentFailed, None, None, "failed", detail);
            return self.advance(row, failed).await;
        };
        let attempt = if begun {
            // The first attempt, counted by the reservation's write.
            row.charge_attempts
        } else {
            let (attempts, retry_for) =
                (self.config.payment_attempts, self.config.payment_retry_for);
            if let Some(give_up) = charging::give_up(row, attempts, retry_for, now_ms()) {
                return self.advance(row, give_up).await;
            }
            self.begin_charge_attempt(row).await?
        };
        let answer = self
            .steps
            .charge(row.order_id, &row.total, card_number)
            .await;
        match charging::after_charge(answer, attempt) {
            AfterCharge::Advance(change) => {
                let captured = change.to == SagaState::Committing;
                let commit_started = captured.then(|| Begin {
                    step: "commit",
                    detail: String::new(),
                    counts_charge: false,
                });
                let turn = self.advance_into(row, change, commit_started).await?;
                if captured {
                    self.checkpoint(Checkpoint::Charged);
                }
                Ok(turn)
            }
            AfterCharge::Repeat { outcome, detail } => {
                self.record(row, "charge", outcome, &detail).await?;
                Ok(Turn::Retry)
            }
        }
    }

    /// Counts a charge attempt before it is made (so that the bound on attempts holds across
    /// restarts); its number, 1 for the first.
    async fn begin_charge_attempt(&self, row: &SagaRow) -> Result<u32, Stop> {
        let attempt = row.charge_attempts + 1;
        let detail = attempt_detail(row, attempt);
        if self
            .store
            .begin_charge_attempt(row.order_id, &self.lease, &detail, now_ms())
            .await?
        {
            Ok(attempt)
        } else {
            Err(Stop::LeaseLost)
        }
    }

    async fn commit(&self, row: &SagaRow, begun: bool) -> Result<Turn, Stop> {
        if !begun {
            self.record(row, "commit", "started", "").await?;
        }
        let to_refund = |outcome: &str, detail: String| Transition {
            from: SagaState::Committing,
            to: SagaState::Refunding,
            status: OrderStatus::Pending,
            charge_id: None,
            cancel_reason: Some(CancelReason::ReservationExpired),
            decline_code: None,
            step: "commit",
            outcome: outcome.to_owned(),
            detail,
        };
        match self.steps.commit(row.order_id).await {
            Ok(Committed::Committed) => {
                let turn = self.advance(row, Transition::confirmed()).await?;
                self.checkpoint(Checkpoint::Committed);
                Ok(turn)
            }
            Ok(Committed::Expired(detail)) => self.advance(row, to_refund("expired", detail)).await,
            Err(StepError::Transient(e)) => self.retry_later(row, "commit", &e).await,
            // The reservation is unknown or cannot be committed: the goods cannot be had.
            Err(StepError::Rejected { code, detail }) => {
                self.advance(row, to_refund("rejected", format!("{code}: {detail}")))
                    .await
            }
        }
    }

    async fn release(&self, row: &SagaRow) -> Result<Turn, Stop> {
        let reason = row.cancel_reason.unwrap_or(CancelReason::PaymentFailed);
        if reason == CancelReason::PaymentFailed {
            // The charge's outcome was unknown: whatever was captured after all goes back.
            self.record(
                row,
                "refund",
                "started",
                "refunding any captured charge of the order",
            )
            .await?;
            match self.steps.captured_charges(row.order_id).await {
                Ok(captured) => {
                    for charge_id in captured {
                        match self.steps.refund(charge_id).await {
                            Ok(()) => {
                                self.record(row, "refund", "ok", &format!("charge {charge_id}"))
                                    .await?
                            }
                            Err(StepError::Transient(e)) => {
                                return self.retry_later(row, "refund", &e).await
                            }
                            Err(StepError::Rejected { code, detail }) => {
                                self.record(
                                    row,
                                    "refund",
                                    "rejected",
                                    &format!("charge {charge_id}: {code}: {detail}"),
                                )
                                .await?
                            }
                        }
                    }
                }
                Err(StepError::Transient(e)) => return self.retry_later(row, "refund", &e).await,
                Err(StepError::Rejected { code, detail }) => {
                    self.record(row, "refund", "rejected", &format!("{code}: {detail}"))
                        .await?
                }
            }
        }
        self.record(row, "release", "started", "").await?;
        let cancel = |outcome: &str, detail: String| Transition {
            from: SagaState::Releasing,
            to: SagaState::Done,
            status: OrderStatus::Cancelled,
            charge_id: None,
            cancel_reason: Some(reason),
            decline_code: None,
            step: "release",
            outcome: outcome.to_owned(),
            detail,
        };
        let turn = match self.steps.release(row.order_id).await {
            Ok(()) => {
                self.advance(row, cancel("ok", format!("cancelled: {}", reason.as_str())))
                    .await?
            }
            Err(StepError::Transient(e)) => return self.retry_later(row, "release", &e).await,
            // Nothing to release (e.g. no reservation was ever made).
            Err(StepError::Rejected { code, detail }) => {
                tracing::warn!(order = %row.order_id, %code, %detail, "inventory refused to release the reservation");
                self.advance(row, cancel("rejected", format!("{code}: {detail}")))
                    .await?
            }
        };
        self.checkpoint(Checkpoint::Released);
        Ok(turn)
    }

    async fn refund(&self, row: &SagaRow) -> Result<Turn, Stop> {
        let cancel = |outcome: &str, detail: String| Transition {
            from: SagaState::Refunding,
            to: SagaState::Done,
            status: OrderStatus::Cancelled,
            charge_id: None,
            cancel_reason: Some(CancelReason::ReservationExpired),
            decline_code: None,
            step: "refund",
            outcome: outcome.to_owned(),
            detail,
        };
        let Some(charge_id) = row.charge_id else {
            return self
                .advance(row, cancel("ok", "no charge to refund".to_owned()))
                .await;
        };
        self.record(row, "refund", "started", &format!("charge {charge_id}"))
            .await?;
        let turn = match self.steps.refund(charge_id).await {
            Ok(()) => {
                self.advance(row, cancel("ok", format!("charge {charge_id} refunded")))
                    .await?
            }
            Err(StepError::Transient(e)) => return self.retry_later(row, "refund", &e).await,
            Err(StepError::Rejected { code, detail }) => {
                tracing::error!(order = %row.order_id, %charge_id, %code, %detail, "payments refused to refund a captured charge");
                self.advance(row, cancel("rejected", format!("{code}: {detail}")))
                    .await?
            }
        };
        self.checkpoint(Checkpoint::Refunded);
        Ok(turn)
    }
}

/// The history detail of charge attempt number `attempt`.
fn attempt_detail(row: &SagaRow, attempt: u32) -> String {
    format!(
        "attempt {attempt}: {} {}",
        row.total.amount_minor, row.total.currency
    )
}

/// The start of the order's next charge attempt, counted by the write that leads into charging.
fn charge_attempt(row: &SagaRow) -> Begin {
    Begin {
        step: "charge",
        detail: attempt_detail(row, row.charge_attempts + 1),
        counts_charge: true,
    }
}
