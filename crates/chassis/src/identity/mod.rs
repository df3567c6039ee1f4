//! Service identity: every call between services says which service makes it, and the callee
//! checks that before anything else.
//!
//! The caller's side ([`Presenter`], always compiled: the client needs it) puts a token in the
//! [`HEADER`] of every call made through a [`crate::client::ServiceClient`]; `Authorization`
//! stays the shopper's, which the gateway forwards. Where the token comes from:
//!
//! - [`AuthorityTokens`]: the local identity authority (`brigade up`'s control plane). The
//!   instance proves itself with the bootstrap secret the control plane gave it (environment,
//!   never the command line) and gets short-lived tokens bound to one callee (`aud`), cached per
//!   callee and renewed before they expire;
//! - [`FileToken`]: a token the platform mounts (a Kubernetes projected ServiceAccount token),
//!   read again whenever the file changes;
//! - [`DevIdentity`]: an unsigned name, for a service started by hand; only a callee that also
//!   runs with `--identity dev` accepts it, and both say so loudly.
//!
//! The callee's side (`crate::guard`, with the `server` feature) verifies the token with the
//! chassis' JWKS verifier (`crate::auth::Verifier`) and answers 401 or 403 per route
//! (`guard::callers`); the authority's side (`crate::authority`) mints and rotates. They are
//! modules of their own so that this one, which the client uses, uses neither.

mod present;

use serde::{Deserialize, Serialize};

pub use present::{
    AuthorityTokens, DevIdentity, FileToken, Identity, PresentError, Presenter, TokenAnswer,
    TokenFuture, TokenRequest, BOOTSTRAP_SECRET_ENV, TOKEN_PATH,
};

/// The request header carrying the calling service's identity token.
pub const HEADER: &str = "brigade-identity";

/// The subject of tokens minted for people operating the system (`brigade` commands, the
/// console), accepted by the routes that say so.
pub const OPERATOR: &str = "operator";

/// The edges: the services shoppers' requests come in through (the JSON gateway and the
/// storefront's pages). An internal route that serves a shopper's request, and nothing else,
/// accepts exactly these callers; one list so that an edge added is added everywhere.
pub const EDGES: &[&str] = &["gateway", "storefront"];

/// The issuer (`iss`) of the tokens the local identity authority mints.
pub const AUTHORITY_ISSUER: &str = "brigade-control-plane";

/// Where the local identity authority publishes its public keys (on the control port).
pub const JWKS_PATH: &str = "/v1/identity/jwks";

/// Where an operator, proving the operator credential, gets a token (on the control port).
pub const OPERATOR_TOKEN_PATH: &str = "/v1/identity/operator-token";

/// The prefix of a development identity's token: `dev:<service>`.
pub const DEV_PREFIX: &str = "dev:";

/// What a service identity token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityClaims {
    pub iss: String,
    /// The calling service (or [`OPERATOR`]).
    pub sub: String,
    /// The service called.
    pub aud: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expires at, Unix seconds.
    pub exp: u64,
}

/// The service a subject names: the name itself for the local authority's tokens, the last part
/// of a Kubernetes ServiceAccount subject (`system:serviceaccount:<namespace>:<service>`).
pub fn service_of_subject(subject: &str) -> &str {
    match subject.strip_prefix("system:serviceaccount:") {
        Some(rest) => rest.rsplit_once(':').map_or(rest, |(_, name)| name),
        None => subject,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_account_subject_names_its_service() {
        assert_eq!(
            service_of_subject("system:serviceaccount:brigade:orders"),
            "orders"
        );
        assert_eq!(service_of_subject("orders"), "orders");
        assert_eq!(service_of_subject(OPERATOR), OPERATOR);
    }
}
