//! The typed client the edges use to read a shopper's messages on their behalf, through the
//! chassis client (so every call gets discovery, balancing, deadlines and tracing).

use brigade_chassis::client::{Error as ClientError, ServiceClient};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use uuid::Uuid;

use crate::paths;
use crate::rules::ListMessages;
use crate::types::{Message, MessagePage};

/// Calls the notifications service. Cheap to clone.
///
/// Every method takes the shopper's access token (for a handler's `Principal`, pass
/// `&principal.token`): the service answers with that shopper's messages only.
#[derive(Debug, Clone)]
pub struct NotificationsClient {
    inner: ServiceClient,
}

impl NotificationsClient {
    /// `inner` is a chassis client bound to the notifications service
    /// (`ctx.client("notifications")`).
    pub fn new(inner: ServiceClient) -> NotificationsClient {
        NotificationsClient { inner }
    }

    /// One page of the shopper's messages, newest first.
    pub async fn messages(
        &self,
        token: &str,
        page: &ListMessages,
    ) -> Result<MessagePage, ClientError> {
        let path = self.inner.path_and_query(paths::MESSAGES, page)?;
        self.get(token, &path).await
    }

    /// One of the shopper's messages; another shopper's, or none, is a 404 (`is_not_found()`).
    pub async fn message(&self, token: &str, id: Uuid) -> Result<Message, ClientError> {
        self.get(token, &paths::message(id)).await
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        path: &str,
    ) -> Result<T, ClientError> {
        let bearer =
            HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| ClientError::Request {
                service: self.inner.service().to_owned(),
                reason: "the access token cannot travel in a header".to_owned(),
            })?;
        let headers = HeaderMap::from_iter([(HeaderName::from_static("authorization"), bearer)]);
        self.inner
            .send_json::<(), _>(Method::GET, path, None, &headers)
            .await
    }
}
