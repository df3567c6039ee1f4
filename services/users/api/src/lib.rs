//! The users service's contract: its wire types, the rules sign-up input must follow, the events
//! it publishes ([`events`]), and a typed client. Callers (the gateway, …) depend on this crate,
//! never on the server.
//!
//! The validation rules live here rather than in the server so that an edge (the gateway) can
//! refuse bad input with exactly the same words before it costs a hop.

#![forbid(unsafe_code)]

mod client;
pub mod events;
mod types;
mod validate;

pub use client::UsersClient;
pub use jsonwebtoken::jwk::JwkSet;
pub use types::{
    LogIn, LogInProblems, RotatedKey, Session, SignUp, SignUpProblems, User, TOKEN_TYPE,
};
pub use validate::{
    normalize_email, ValidLogIn, ValidSignUp, ValidationError, MAX_EMAIL_CHARS, MAX_NAME_CHARS,
    MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS,
};

/// The users service's routes, shared by the server's router and the client so that they cannot
/// drift.
pub mod paths {
    /// `POST`: sign up ([`crate::SignUp`]) → 201 [`crate::User`].
    pub const USERS: &str = "/v1/users";
    /// `POST`: log in ([`crate::LogIn`]) → [`crate::Session`].
    pub const SESSIONS: &str = "/v1/sessions";
    /// `GET` with `Authorization: Bearer`: the signed-in user.
    pub const ME: &str = "/v1/me";
    /// `GET`: the public keys that verify access tokens (a JWKS).
    pub const JWKS: &str = brigade_chassis::routes::JWKS;
    /// `POST`: retire the signing key and start signing with a new one (operators only: the
    /// gateway never exposes it).
    pub const ROTATE_KEYS: &str = "/v1/keys/rotate";
}
