//! The console's door: the page at `/` is shown only to a browser logged in with the link
//! `brigade up` prints (`/login?t=<credential>`), as the Aspire dashboard does with its browser
//! token. Without the login, `/` answers 401 with a page that says where the link is, and no
//! data. (The console's data API stays readable on loopback like `brigade status`; what the
//! login guards is the console itself and every change it can make.)
//!
//! `/login` turns the link into the console session cookie ([`Gate::session_cookie`]) and
//! sends the browser on to `/`, so that the secret leaves the address bar (and the history
//! entry the browser keeps for it is replaced).

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{header, HeaderMap, StatusCode};
use serde::Deserialize;

use super::assets;
use crate::operator_auth::Gate;

/// The page around what the login says (at `<!--why-->`).
pub(super) const PAGE: &str = include_str!("assets/login.html");
/// What `/` says without a login.
const LOGIN_NEEDED: &str = include_str!("assets/login-needed.html");
/// What a wrong or outdated login link says.
const LINK_REFUSED: &str = include_str!("assets/login-refused.html");

/// The login page saying `why`, answered 401.
fn refused(why: &str) -> Response {
    let mut response = assets::html(PAGE.replace("<!--why-->", why));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response
}

#[derive(Debug, Default, Deserialize)]
struct Link {
    t: Option<String>,
}

/// `GET /` (the console's page, behind the login) and `GET /login`.
pub fn router(gate: Gate) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/login", get(login))
        .with_state(gate)
}

async fn page(State(gate): State<Gate>, headers: HeaderMap) -> Response {
    if gate.has_console_session(&headers) {
        assets::index()
    } else {
        refused(LOGIN_NEEDED)
    }
}

async fn login(
    State(gate): State<Gate>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let link: Link =
        serde_urlencoded::from_str(query.as_deref().unwrap_or_default()).unwrap_or_default();
    let accepted = link
        .t
        .as_deref()
        .is_some_and(|token| gate.opens_console(token));
    if !accepted {
        tracing::warn!("console login refused: the link's token is not this system's credential");
        return refused(LINK_REFUSED);
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/".to_owned()),
            (header::SET_COOKIE, gate.session_cookie(&headers)),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            // The page it leads to must not pass the link on as a referrer.
            (header::REFERRER_POLICY, "no-referrer".to_owned()),
        ],
    )
        .into_response()
}
