//! The typed client other services use to call payments, through the chassis client (so every
//! call gets discovery, balancing, deadlines and tracing).

use brigade_chassis::client::{Error as ClientError, ServiceClient};
use brigade_chassis::context::IDEMPOTENCY_KEY_HEADER;
use http::{HeaderMap, HeaderValue, Method};
use uuid::Uuid;

use crate::paths;
use crate::types::{
    Audit, Charge, ChargeList, ChargeRequest, LedgerPage, LedgerQuery, RefundRequest,
};

/// Calls the payments service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PaymentsClient {
    inner: ServiceClient,
}

impl PaymentsClient {
    /// `inner` is a chassis client bound to the payments service (`ctx.client("payments")`).
    pub fn new(inner: ServiceClient) -> PaymentsClient {
        PaymentsClient { inner }
    }

    /// Why a call to payments made now would be refused without being sent (no instance known,
    /// circuit breaker open), if it would; see `ServiceClient::unavailable_now`.
    pub fn unavailable_now(&self) -> Option<ClientError> {
        self.inner.unavailable_now()
    }

    /// Charges a card, at most once per `idempotency_key`: calling again with the same key and
    /// request returns the same charge (so a call whose outcome is unknown is simply repeated).
    /// A decline is an `Ok` charge with status `declined`. Errors worth acting on, by
    /// `to_problem().code()`: [`crate::problems::ALREADY_CHARGED`] (409),
    /// [`crate::problems::IDEMPOTENCY_KEY_REUSED`] (422), [`crate::problems::PROCESSOR_ERROR`]
    /// (502: nothing recorded, try again). A slow charge may come back `pending` when the
    /// caller's deadline is short: ask again with the same key, or by id, later.
    pub async fn charge(
        &self,
        idempotency_key: &str,
        request: &ChargeRequest,
    ) -> Result<Charge, ClientError> {
        let headers = self.idempotency_key(idempotency_key)?;
        self.inner
            .send_json(Method::POST, paths::CHARGES, Some(request), &headers)
            .await
    }

    /// Refunds a captured charge in full; refunding a refunded charge returns it unchanged.
    /// A declined or pending charge is [`crate::problems::NOT_REFUNDABLE`] (409).
    pub async fn refund(
        &self,
        charge_id: Uuid,
        reason: Option<&str>,
    ) -> Result<Charge, ClientError> {
        // The key is derived from the charge, so that every attempt (from any caller) to refund
        // it is the same request, which the chassis client may safely repeat on another instance.
        let headers = self.idempotency_key(&format!("refund:{charge_id}"))?;
        let body = RefundRequest {
            reason: reason.map(str::to_owned),
        };
        self.inner
            .send_json(
                Method::POST,
                &paths::refund(charge_id),
                Some(&body),
                &headers,
            )
            .await
    }

    /// One charge; an unknown id is an error for which `is_not_found()` is true.
    pub async fn charge_by_id(&self, id: Uuid) -> Result<Charge, ClientError> {
        self.inner.get_json(&paths::charge(id)).await
    }

    /// Every charge of an order, oldest first.
    pub async fn charges_for_order(&self, order_id: Uuid) -> Result<Vec<Charge>, ClientError> {
        let list: ChargeList = self
            .inner
            .get_json(&format!("{}?order_id={order_id}", paths::CHARGES))
            .await?;
        Ok(list.items)
    }

    /// One page of the ledger, oldest first.
    pub async fn ledger(&self, query: &LedgerQuery) -> Result<LedgerPage, ClientError> {
        let path = self.inner.path_and_query(paths::LEDGER, query)?;
        self.inner.get_json(&path).await
    }

    /// The consistency audit: charges checked against the ledger.
    pub async fn audit(&self) -> Result<Audit, ClientError> {
        self.inner.get_json(paths::AUDIT).await
    }

    fn idempotency_key(&self, key: &str) -> Result<HeaderMap, ClientError> {
        let value = HeaderValue::from_str(key).map_err(|_| ClientError::Request {
            service: self.inner.service().to_owned(),
            reason: "the idempotency key is not a valid header value".to_owned(),
        })?;
        let mut headers = HeaderMap::new();
        headers.insert(IDEMPOTENCY_KEY_HEADER, value);
        Ok(headers)
    }
}
