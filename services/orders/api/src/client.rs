//! The typed client other services use to call orders, through the chassis client (so every
//! call gets discovery, balancing, deadlines and tracing).

use brigade_chassis::client::{Answer, Error as ClientError, ServiceClient};
use brigade_chassis::context::IDEMPOTENCY_KEY_HEADER;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use uuid::Uuid;

use crate::paths;
use crate::rules::ListOrders;
use crate::types::{Audit, CheckoutRequest, Order, OrderPage, OrderStatusPage};

/// The answer to a checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutAnswer {
    /// The order as it stands: final, or still `PENDING`.
    pub order: Order,
    /// True when the saga had not finished within the request's deadline (HTTP 202): poll
    /// `location` (or [`OrdersClient::order`]) for the outcome.
    pub pending: bool,
    /// True when this request created the order (HTTP 201); false for a repeat with the same
    /// key (200, or 202 while pending).
    pub created: bool,
    /// The order's URL path, `/v1/orders/{id}`.
    pub location: String,
}

/// Calls the orders service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OrdersClient {
    inner: ServiceClient,
}

impl OrdersClient {
    /// `inner` is a chassis client bound to the orders service (`ctx.client("orders")`).
    pub fn new(inner: ServiceClient) -> OrdersClient {
        OrdersClient { inner }
    }

    /// Checks out the user's cart, at most once per `idempotency_key` for this user: repeating
    /// the call with the same key and request returns the same order. Errors worth acting on,
    /// by `to_problem().code()`: [`crate::problems::EMPTY_CART`],
    /// [`crate::problems::PRODUCT_UNAVAILABLE`], [`crate::problems::IDEMPOTENCY_KEY_REUSED`]
    /// (422) and [`crate::problems::REQUEST_IN_PROGRESS`] (409: ask again shortly).
    pub async fn checkout(
        &self,
        token: &str,
        idempotency_key: &str,
        request: &CheckoutRequest,
    ) -> Result<CheckoutAnswer, ClientError> {
        let mut headers = self.authorization(token)?;
        let key = HeaderValue::from_str(idempotency_key)
            .map_err(|_| self.request_error("the idempotency key is not a valid header value"))?;
        headers.insert(IDEMPOTENCY_KEY_HEADER, key);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let body = serde_json::to_vec(request)
            .map_err(|e| self.request_error(&format!("cannot encode the request: {e}")))?;
        let answer = self
            .inner
            .call_with_headers(Method::POST, paths::CHECKOUT, Some(body.into()), &headers)
            .await?;
        let order: Order = self.decode(&answer)?;
        let location = answer
            .headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| paths::order(order.id), str::to_owned);
        Ok(CheckoutAnswer {
            pending: answer.status == StatusCode::ACCEPTED,
            created: answer.status == StatusCode::CREATED,
            order,
            location,
        })
    }

    /// One of the user's orders; another user's order, or an unknown id, is an error for which
    /// `is_not_found()` is true.
    pub async fn order(&self, token: &str, id: Uuid) -> Result<Order, ClientError> {
        let headers = self.authorization(token)?;
        self.inner
            .send_json::<(), _>(Method::GET, &paths::order(id), None, &headers)
            .await
    }

    /// One page of the user's orders, newest first.
    pub async fn orders(&self, token: &str, page: &ListOrders) -> Result<OrderPage, ClientError> {
        let headers = self.authorization(token)?;
        let path = self.inner.path_and_query(paths::ORDERS, page)?;
        self.inner
            .send_json::<(), _>(Method::GET, &path, None, &headers)
            .await
    }

    /// Unfinished sagas (with the service's default age) and orders by status.
    pub async fn audit(&self) -> Result<Audit, ClientError> {
        self.inner.get_json(paths::AUDIT).await
    }

    /// Unfinished sagas (PENDING for more than `age_s` seconds) and orders by status.
    pub async fn audit_older_than(&self, age_s: u64) -> Result<Audit, ClientError> {
        self.inner
            .get_json(&format!("{}?older_than_s={age_s}", paths::AUDIT))
            .await
    }

    /// One page of every order's id and status, after the order `after`.
    pub async fn audit_orders(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<OrderStatusPage, ClientError> {
        let path = match after {
            Some(after) => format!("{}?after={after}&limit={limit}", paths::AUDIT_ORDERS),
            None => format!("{}?limit={limit}", paths::AUDIT_ORDERS),
        };
        self.inner.get_json(&path).await
    }

    fn decode<T: serde::de::DeserializeOwned>(&self, answer: &Answer) -> Result<T, ClientError> {
        serde_json::from_slice(&answer.body).map_err(|e| ClientError::Decode {
            service: self.inner.service().to_owned(),
            reason: e.to_string(),
        })
    }

    fn authorization(&self, token: &str) -> Result<HeaderMap, ClientError> {
        let value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| self.request_error("the access token cannot travel in a header"))?;
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value);
        Ok(headers)
    }

    fn request_error(&self, reason: &str) -> ClientError {
        ClientError::Request {
            service: self.inner.service().to_owned(),
            reason: reason.to_owned(),
        }
    }
}
