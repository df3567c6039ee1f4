//! The typed client other services use to call users, through the chassis client (so every call
//! gets discovery, balancing, deadlines and tracing).

use brigade_chassis::client::{Error as ClientError, ServiceClient};
use http::{header, HeaderMap, HeaderValue, Method};

use crate::paths;
use crate::types::{LogIn, RotatedKey, Session, SignUp, User};
use crate::JwkSet;

/// Calls the users service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct UsersClient {
    inner: ServiceClient,
}

impl UsersClient {
    /// `inner` is a chassis client bound to the users service (`ctx.client("users")`).
    pub fn new(inner: ServiceClient) -> UsersClient {
        UsersClient { inner }
    }

    /// Creates an account. A taken email is an error whose problem has code `email-taken`; input
    /// that breaks a rule is a 400 (call [`SignUp::validate`] first to refuse it without the hop).
    pub async fn sign_up(&self, request: &SignUp) -> Result<User, ClientError> {
        self.inner.post_json(paths::USERS, request).await
    }

    /// Exchanges credentials for an access token; wrong ones are a 401 `invalid-credentials`.
    pub async fn log_in(&self, request: &LogIn) -> Result<Session, ClientError> {
        self.inner.post_json(paths::SESSIONS, request).await
    }

    /// The user `token` belongs to.
    pub async fn me(&self, token: &str) -> Result<User, ClientError> {
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            ClientError::Request {
                service: self.inner.service().to_owned(),
                reason: "the access token is not a valid header value".to_owned(),
            }
        })?;
        headers.insert(header::AUTHORIZATION, value);
        self.inner
            .send_json::<(), User>(Method::GET, paths::ME, None, &headers)
            .await
    }

    /// The public keys that verify access tokens.
    pub async fn jwks(&self) -> Result<JwkSet, ClientError> {
        self.inner.get_json(paths::JWKS).await
    }

    /// Retires the signing key and returns the id of the new one (an operator's call).
    pub async fn rotate_keys(&self) -> Result<RotatedKey, ClientError> {
        self.inner
            .send_json::<(), RotatedKey>(Method::POST, paths::ROTATE_KEYS, None, &HeaderMap::new())
            .await
    }
}
