//! The typed client other services use to call shipping, through the chassis client (so every
//! call gets discovery, balancing, deadlines and tracing).

use brigade_chassis::client::{Error as ClientError, ServiceClient};
use uuid::Uuid;

use crate::paths;
use crate::types::{Quote, QuoteRequest, Shipment};

/// Calls the shipping service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ShippingClient {
    inner: ServiceClient,
}

impl ShippingClient {
    /// `inner` is a chassis client bound to the shipping service (`ctx.client("shipping")`).
    pub fn new(inner: ServiceClient) -> ShippingClient {
        ShippingClient { inner }
    }

    /// Why a call made now would be refused without being sent (no instance, circuit open).
    pub fn unavailable_now(&self) -> Option<ClientError> {
        self.inner.unavailable_now()
    }

    /// What shipping `request`'s items to its country costs. A quote changes nothing, so a
    /// failed call may simply be repeated. Errors worth acting on, by `to_problem().code()`:
    /// [`crate::problems::UNKNOWN_COUNTRY`] (422).
    pub async fn quote(&self, request: &QuoteRequest) -> Result<Quote, ClientError> {
        self.inner.post_json(paths::QUOTES, request).await
    }

    /// The order's shipment; `is_not_found()` when it has none (yet).
    pub async fn shipment(&self, order_id: Uuid) -> Result<Shipment, ClientError> {
        self.inner.get_json(&paths::shipment(order_id)).await
    }
}
