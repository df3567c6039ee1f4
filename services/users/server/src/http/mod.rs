//! The users service's HTTP API under `/v1`, plus its OpenAPI document. Handlers check input, ask
//! the store, the password hasher or the key ring, and answer JSON or a problem.

mod keys;
mod me;
mod openapi;
mod sessions;
mod users;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use brigade_chassis::Problem;
use users_api::paths;

use crate::app::App;

/// The largest sign-up or log-in body: the longest email, password and name fit in 2 KiB even
/// as escaped JSON; anything much larger is not a form, so it is refused before it is read.
const FORM_BODY_LIMIT: usize = 16 * 1024;

/// The users service's routes. The chassis adds health, metrics and the middleware around them.
pub fn router(app: App) -> Router {
    Router::new()
        .route(
            paths::USERS,
            post(users::sign_up).layer(DefaultBodyLimit::max(FORM_BODY_LIMIT)),
        )
        .route(
            paths::SESSIONS,
            post(sessions::log_in).layer(DefaultBodyLimit::max(FORM_BODY_LIMIT)),
        )
        .route(paths::ME, get(me::me))
        .route(paths::JWKS, get(keys::jwks))
        .route(paths::ROTATE_KEYS, post(keys::rotate))
        .route(paths::OPENAPI, get(openapi::document))
        .with_state(app)
}

/// The answer to a failure of the service itself: logged here with its cause, answered without.
fn failed(what: &str, error: &dyn std::error::Error) -> Problem {
    tracing::error!(error = %error, "{what} failed");
    Problem::internal()
}
