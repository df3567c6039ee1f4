//! What goes over the wire. Field names are the JSON names; changing one breaks callers.

use brigade_chassis::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The `token_type` of every [`Session`].
pub const TOKEN_TYPE: &str = "Bearer";

/// `POST /v1/users`: a new account. Unknown members are refused.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    /// Trimmed and lower-cased; one @, something before it, a domain with a dot after it, no
    /// spaces.
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 10 to 128 characters (not bytes), no composition rules (NIST SP 800-63B); must not be
    /// the email.
    #[schema(min_length = 10, max_length = 128)]
    pub password: String,
    /// 1 to 100 characters after trimming, no control characters.
    #[schema(
        pattern = r"^\s*[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]{0,98}[^\s\x00-\x1f\x7f-\x9f])?\s*$"
    )]
    pub name: String,
}

/// `POST /v1/sessions`: credentials to exchange for an access token. Unknown members are refused.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogIn {
    /// Not empty once trimmed, at most 254 characters.
    #[schema(max_length = 254, pattern = r"\S")]
    pub email: String,
    /// 1 to 128 characters.
    #[schema(min_length = 1, max_length = 128)]
    pub password: String,
}

/// The problems of a sign-up (`POST /v1/users`), which the users service and the gateway in
/// front of it document alike.
#[derive(utoipa::IntoResponses)]
pub enum SignUpProblems {
    #[response(
        status = 400,
        description = "invalid-parameter: a field breaks a rule (`parameter` names it)"
    )]
    InvalidParameter(Problem),
    #[response(
        status = 409,
        description = "email-taken: an account with this email exists"
    )]
    EmailTaken(Problem),
}

/// The problems of a log-in (`POST /v1/sessions`), which the users service and the gateway in
/// front of it document alike.
#[derive(utoipa::IntoResponses)]
pub enum LogInProblems {
    #[response(
        status = 400,
        description = "invalid-parameter: an empty or far too long email or password \
            (`parameter` names it)"
    )]
    InvalidParameter(Problem),
    #[response(
        status = 401,
        description = "invalid-credentials: the email or the password is wrong"
    )]
    InvalidCredentials(Problem),
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    /// Trimmed and lower-cased.
    pub email: String,
    pub name: String,
    /// Unix milliseconds.
    pub created_at_ms: u64,
}

/// The answer to a successful log-in: an access token to send as `Authorization: Bearer …`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RotatedKey {
    pub kid: String,
}
