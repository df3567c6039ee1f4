//! The saga's port to the services it calls. The saga and its tests depend on this trait only;
//! [`crate::remote::RemoteSteps`] implements it with the typed clients, and the tests with fakes
//! that count calls and inject failures.
//!
//! Every operation is idempotent downstream (reserve by order id, charge by the order id as the
//! idempotency key, commit, release, refund by charge), so the saga may repeat any of them after
//! a crash or when an outcome is unknown.

use std::future::Future;
use std::pin::Pin;

use catalog_api::{Money, ProductBatch};
use currency_api::{Conversion, Converted};
use shipping_api::{Quote, QuoteRequest};
use uuid::Uuid;

/// What the port's futures are.
pub type StepFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StepError>> + Send + 'a>>;

/// Why a call did not give an answer the saga can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// The outcome is unknown or the service is unreachable (timeout, 5xx, no instance):
    /// the same call may be repeated.
    #[error("{0}")]
    Transient(String),
    /// The service refused the request for good (a 4xx other than the outcomes the saga
    /// handles); `code` is the problem's code.
    #[error("{code}: {detail}")]
    Rejected { code: String, detail: String },
}

/// One line of a user's cart: what and how many; prices come from the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CartItem {
    pub product_id: Uuid,
    pub quantity: u32,
}

/// A user's cart as read at checkout: its lines, and the version they are of (which the
/// confirmed order carries, so that the cart takes out only what was priced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartContents {
    pub items: Vec<CartItem>,
    pub version: u64,
}

/// One line to reserve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockLine {
    pub sku: String,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserved {
    /// Every line is held for the order (or was, and the commit will tell).
    Held,
    /// Some line is short; nothing is held. The detail names the short lines.
    OutOfStock(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charged {
    Captured {
        charge_id: Uuid,
    },
    Declined {
        charge_id: Uuid,
        code: String,
    },
    /// Accepted and still being processed (a slow card): ask again with the same key.
    Pending {
        charge_id: Uuid,
    },
    /// The charge was captured once and refunded since: nothing is taken.
    Refunded {
        charge_id: Uuid,
    },
    /// The call certainly never reached payments (no instance, circuit open, connection
    /// refused): this attempt charged nothing. `detail` says why.
    NotDelivered {
        detail: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    Committed,
    /// The reservation lapsed and its stock is gone.
    Expired(String),
}

/// The calls the checkout makes. Implementations are cheap to share (`Arc<dyn Steps>`).
pub trait Steps: Send + Sync + 'static {
    /// The user's cart, read on their behalf with their access token.
    fn cart<'a>(&'a self, token: &'a str) -> StepFuture<'a, CartContents>;
    /// The catalog's current products for `ids`.
    fn products<'a>(&'a self, ids: &'a [Uuid]) -> StepFuture<'a, ProductBatch>;
    /// Shipping's quote for `request` (at checkout, before anything is recorded).
    fn quote<'a>(&'a self, request: &'a QuoteRequest) -> StepFuture<'a, Quote>;
    /// The currency service's conversion of a checkout's total (at checkout, before anything is
    /// recorded; only for a checkout paid in another currency than the catalog's).
    fn convert<'a>(&'a self, conversion: &'a Conversion) -> StepFuture<'a, Converted>;
    /// Reserves every line for the order, or none.
    fn reserve<'a>(&'a self, order_id: Uuid, lines: &'a [StockLine]) -> StepFuture<'a, Reserved>;
    /// Charges `amount` once per order, whatever the number of calls.
    fn charge<'a>(
        &'a self,
        order_id: Uuid,
        amount: &'a Money,
        card_number: &'a str,
    ) -> StepFuture<'a, Charged>;
    fn commit(&self, order_id: Uuid) -> StepFuture<'_, Committed>;
    /// Gives the reserved units back; releasing an unknown or released reservation is fine.
    fn release(&self, order_id: Uuid) -> StepFuture<'_, ()>;
    /// Refunds a captured charge in full; refunding a refunded charge is fine.
    fn refund(&self, charge_id: Uuid) -> StepFuture<'_, ()>;
    /// The ids of the order's charges that are captured (not refunded).
    fn captured_charges(&self, order_id: Uuid) -> StepFuture<'_, Vec<Uuid>>;
    /// Why payments could not be called right now, if it is known without calling (no instance,
    /// circuit open): a checkout then refuses at once instead of reserving stock it cannot sell.
    fn payments_unavailable(&self) -> Option<String> {
        None
    }
}
