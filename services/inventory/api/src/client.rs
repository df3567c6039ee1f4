//! The typed client other services use to call the inventory, through the chassis client (so
//! every call gets discovery, balancing, deadlines and tracing).

use brigade_chassis::client::{Error as ClientError, ServiceClient};
use brigade_chassis::context::IDEMPOTENCY_KEY_HEADER;
use http::{HeaderMap, HeaderValue, Method};
use uuid::Uuid;

use crate::rules::validate_sku;
use crate::types::{
    Audit, Reservation, ReserveRequest, SetStock, ShortLine, StockLevel, StockLevels,
};
use crate::{paths, problems};

/// Calls the inventory service. Cheap to clone.
///
/// Errors are the chassis client's: a refusal comes back as `Error::Status { problem, .. }`,
/// whose `problem.code()` is one of [`crate::problems`] or a chassis code (`not-found`,
/// `invalid-parameter`, …).
#[derive(Debug, Clone)]
pub struct InventoryClient {
    inner: ServiceClient,
}

impl InventoryClient {
    /// `inner` is a chassis client bound to the inventory service (`ctx.client("inventory")`).
    pub fn new(inner: ServiceClient) -> InventoryClient {
        InventoryClient { inner }
    }

    /// The levels of `skus` (at most [`crate::MAX_STOCK_SKUS`]), with the unknown ones listed as
    /// missing. No SKUs, no call.
    pub async fn stock(&self, skus: &[String]) -> Result<StockLevels, ClientError> {
        if skus.is_empty() {
            return Ok(StockLevels {
                items: Vec::new(),
                missing: Vec::new(),
            });
        }
        let query = serde_urlencoded::to_string([("skus", skus.join(","))])
            .map_err(|e| self.request_error(format!("cannot encode the SKU list: {e}")))?;
        self.inner
            .get_json(&format!("{}?{query}", paths::STOCK))
            .await
    }

    /// One SKU's level; an unknown SKU is an error for which `is_not_found()` is true.
    pub async fn stock_level(&self, sku: &str) -> Result<StockLevel, ClientError> {
        self.check_sku(sku)?;
        self.inner.get_json(&paths::stock_level(sku)).await
    }

    /// Sets the total stock of `sku` (creating it when new). Refused with
    /// [`problems::STOCK_BELOW_RESERVED`] below the units held and sold.
    pub async fn set_stock(&self, sku: &str, stock: u64) -> Result<StockLevel, ClientError> {
        self.check_sku(sku)?;
        self.inner
            .send_json(
                Method::PUT,
                &paths::stock_level(sku),
                Some(&SetStock { stock }),
                &HeaderMap::new(),
            )
            .await
    }

    /// Holds every line for `order_id`, or none. Repeating it with the same lines answers the
    /// same reservation (whatever its state now); refusals: [`problems::OUT_OF_STOCK`] (see
    /// [`short_lines`]), [`problems::RESERVATION_MISMATCH`], [`problems::UNKNOWN_SKU`].
    pub async fn reserve(
        &self,
        order_id: Uuid,
        request: &ReserveRequest,
    ) -> Result<Reservation, ClientError> {
        let headers = self.idempotency_key("reserve", order_id)?;
        self.inner
            .send_json(
                Method::PUT,
                &paths::reservation(order_id),
                Some(request),
                &headers,
            )
            .await
    }

    /// Sells the reserved units; committing a committed reservation answers it again. A released
    /// or expired one is committed if its units can be taken again, else
    /// [`problems::RESERVATION_EXPIRED`].
    pub async fn commit(&self, order_id: Uuid) -> Result<Reservation, ClientError> {
        self.post_idempotent(&paths::commit(order_id), "commit", order_id)
            .await
    }

    /// Gives the units back; releasing a released or expired reservation answers it again, and
    /// releasing a committed one is [`problems::ALREADY_COMMITTED`].
    pub async fn release(&self, order_id: Uuid) -> Result<Reservation, ClientError> {
        self.post_idempotent(&paths::release(order_id), "release", order_id)
            .await
    }

    /// The reservation of `order_id`; none is an error for which `is_not_found()` is true.
    pub async fn reservation(&self, order_id: Uuid) -> Result<Reservation, ClientError> {
        self.inner.get_json(&paths::reservation(order_id)).await
    }

    /// Every SKU whose counters disagree with its reservations (none, unless a promise broke).
    pub async fn audit(&self) -> Result<Audit, ClientError> {
        self.inner.get_json(paths::AUDIT).await
    }

    /// Commit and release are idempotent by order id; saying so with an `Idempotency-Key` lets
    /// the chassis client try another instance when a connection fails mid-request.
    async fn post_idempotent(
        &self,
        path: &str,
        action: &str,
        order_id: Uuid,
    ) -> Result<Reservation, ClientError> {
        let headers = self.idempotency_key(action, order_id)?;
        self.inner
            .send_json::<(), _>(Method::POST, path, None, &headers)
            .await
    }

    /// Every write on a reservation is keyed by its action and order id: derived, not random, so
    /// that a repeat from any instance carries the same key.
    fn idempotency_key(&self, action: &str, order_id: Uuid) -> Result<HeaderMap, ClientError> {
        let mut headers = HeaderMap::new();
        let key = HeaderValue::from_str(&format!("{action}-{order_id}"))
            .map_err(|e| self.request_error(format!("cannot build the idempotency key: {e}")))?;
        headers.insert(IDEMPOTENCY_KEY_HEADER, key);
        Ok(headers)
    }

    fn check_sku(&self, sku: &str) -> Result<(), ClientError> {
        validate_sku("sku", sku).map_err(|e| self.request_error(e.detail))
    }

    fn request_error(&self, reason: String) -> ClientError {
        ClientError::Request {
            service: self.inner.service().to_owned(),
            reason,
        }
    }
}

/// The lines that were short, when `error` is an [`problems::OUT_OF_STOCK`] or
/// [`problems::RESERVATION_EXPIRED`] refusal.
pub fn short_lines(error: &ClientError) -> Option<Vec<ShortLine>> {
    match error {
        ClientError::Status { problem, .. }
            if problem.code() == problems::OUT_OF_STOCK
                || problem.code() == problems::RESERVATION_EXPIRED =>
        {
            problem
                .extensions
                .get("short")
                .and_then(|short| serde_json::from_value(short.clone()).ok())
        }
        _ => None,
    }
}
