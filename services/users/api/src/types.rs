//! What goes over the wire. Field names are the JSON names; changing one breaks callers.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The `token_type` of every [`Session`].
pub const TOKEN_TYPE: &str = "Bearer";

/// `POST /v1/users`: a new account. Unknown members are refused.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    pub email: String,
    pub password: String,
    pub name: String,
}

/// `POST /v1/sessions`: credentials to exchange for an access token. Unknown members are refused.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogIn {
    pub email: String,
    pub password: String,
}

// Hand-written so that a password never reaches a log line through `{:?}`.
impl std::fmt::Debug for SignUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignUp")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .field("name", &self.name)
            .finish()
    }
}

impl std::fmt::Debug for LogIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogIn")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// An account as others see it: never its password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    /// Trimmed and lower-cased.
    pub email: String,
    pub name: String,
    /// Unix milliseconds.
    pub created_at_ms: u64,
}

/// The answer to a successful log-in: an access token to send as `Authorization: Bearer …`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub access_token: String,
    /// Always [`TOKEN_TYPE`].
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

impl std::fmt::Debug for Session {
    // The token is a credential: not for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("access_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// The answer to `POST /v1/keys/rotate`: the id of the key that signs from now on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotatedKey {
    pub kid: String,
}
