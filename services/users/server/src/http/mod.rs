//! The users service's HTTP API under `/v1`, plus its OpenAPI document. Handlers check input, ask
//! the store, the password hasher or the key ring, and answer JSON or a problem.

mod keys;
mod me;
mod sessions;
mod users;

use axum::Router;
use brigade_chassis::identity::{EDGES, OPERATOR};
use brigade_chassis::openapi::{self, Contract};
use brigade_chassis::Problem;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;

/// The largest sign-up or log-in body: the longest email, password and name fit in 2 KiB even
/// as escaped JSON; anything much larger is not a form, so it is refused before it is read.
const FORM_BODY_LIMIT: usize = 16 * 1024;

/// The users service's routes. The chassis adds health, metrics and the middleware around them.
pub fn router(app: App) -> Router {
    let routes = OpenApiRouter::new()
        // Accounts are reached through the edges; the JWKS stays open (public keys, fetched by
        // every service that verifies shoppers' tokens).
        .routes(openapi::callers(
            openapi::body_limit(routes!(users::sign_up), FORM_BODY_LIMIT),
            EDGES,
        ))
        .routes(openapi::callers(
            openapi::body_limit(routes!(sessions::log_in), FORM_BODY_LIMIT),
            EDGES,
        ))
        .routes(openapi::callers(routes!(me::me), EDGES))
        .routes(routes!(keys::jwks))
        // Rotating the keys that sign every shopper's token is an operator's act.
        .routes(openapi::callers(routes!(keys::rotate), &[OPERATOR]));
    contract().serve(routes).with_state(app)
}

/// What the document says about the service as a whole.
fn contract() -> Contract {
    Contract::new(
        "Brigade users service",
        env!("CARGO_PKG_VERSION"),
        "Accounts, log-in and the keys that sign access tokens. Access tokens are EdDSA JWTs \
         that every service verifies locally with the keys at /v1/jwks. An internal API: \
         shoppers reach sign-up, log-in and /v1/me through the gateway; key rotation is for \
         operators. Every instance also serves /livez, /readyz and /metrics.",
    )
}

/// The answer to a failure of the service itself: logged here with its cause, answered without.
fn failed(what: &str, error: &dyn std::error::Error) -> Problem {
    tracing::error!(error = %error, "{what} failed");
    Problem::internal()
}
