//! The typed client other services use to call the cart on a user's behalf, through the chassis
//! client (so every call gets discovery, balancing, deadlines and tracing).

use brigade_chassis::client::{Error as ClientError, ServiceClient};
use http::{header, HeaderMap, HeaderValue, Method};
use uuid::Uuid;

use crate::paths;
use crate::types::{Cart, SetQuantity};

/// Calls the cart service. Cheap to clone.
///
/// Every method takes the user's access token (for a handler's `Principal`, pass
/// `&principal.token`): the cart answers with that user's cart, and only theirs.
#[derive(Debug, Clone)]
pub struct CartClient {
    inner: ServiceClient,
}

impl CartClient {
    /// `inner` is a chassis client bound to the cart service (`ctx.client("cart")`).
    pub fn new(inner: ServiceClient) -> CartClient {
        CartClient { inner }
    }

    /// The user's cart, re-priced by the catalog.
    pub async fn cart(&self, token: &str) -> Result<Cart, ClientError> {
        self.send(Method::GET, paths::CART, None, token).await
    }

    /// Adds the product, or sets its line's quantity ([`crate::MIN_QUANTITY`] to
    /// [`crate::MAX_QUANTITY`]).
    pub async fn set_quantity(
        &self,
        token: &str,
        product_id: Uuid,
        quantity: u32,
    ) -> Result<Cart, ClientError> {
        let body = SetQuantity {
            quantity: i64::from(quantity),
        };
        self.send(Method::PUT, &paths::item(product_id), Some(&body), token)
            .await
    }

    /// Removes the product's line; removing an absent line is not an error.
    pub async fn remove(&self, token: &str, product_id: Uuid) -> Result<Cart, ClientError> {
        self.send(Method::DELETE, &paths::item(product_id), None, token)
            .await
    }

    /// Empties the cart.
    pub async fn clear(&self, token: &str) -> Result<Cart, ClientError> {
        self.send(Method::DELETE, paths::CART, None, token).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&SetQuantity>,
        token: &str,
    ) -> Result<Cart, ClientError> {
        let headers = self.authorization(token)?;
        self.inner.send_json(method, path, body, &headers).await
    }

    fn authorization(&self, token: &str) -> Result<HeaderMap, ClientError> {
        let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            ClientError::Request {
                service: self.inner.service().to_owned(),
                reason: "the access token cannot travel in a header".to_owned(),
            }
        })?;
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value);
        Ok(headers)
    }
}
