//! Who may change the system through the control port: only holders of the operator credential
//! ([`crate::credential`]). Reading stays open on loopback (`brigade status`, the console's
//! data); every route that kills, pauses, scales, restarts or replays goes through
//! [`Gate::protect`], which lets `GET` and `HEAD` through and demands, of anything else:
//!
//! - `Authorization: Bearer <credential>` (the `brigade` commands, scripts); or
//! - the console's session cookie (set by `/login`, see [`crate::console`]) **and** a proof
//!   that the request comes from the console's own page: the `X-Brigade-Console` header, which
//!   a page of another origin cannot add without a CORS preflight that the control port never
//!   approves, an `Origin` (when sent) equal to the control port's own, and a `Sec-Fetch-Site`
//!   (when sent) of `same-origin`. `SameSite=Strict` alone is not enough: other ports of the
//!   same host are the same *site* (the storefront on 127.0.0.1:8000, any local dev server).
//!
//! Refusals are problems: `operator-credential-required` (401, with how to authenticate) and
//! `cross-site-request` (403), each logged without the secret.

pub mod cli;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use brigade_chassis::Problem;
use http::{header, HeaderMap, Method, StatusCode};

use crate::credential::OperatorCredential;

/// The problem type of a change asked for without a valid operator credential.
pub const CREDENTIAL_REQUIRED: &str = "operator-credential-required";
/// The problem type of a change asked for with the console's cookie but not from its page.
pub const CROSS_SITE: &str = "cross-site-request";
/// The header the console's page adds to every change it asks for.
pub const CONSOLE_HEADER: &str = "x-brigade-console";
/// The console session cookie's name, before the control port's port number: cookies are
/// shared by every port of a host, and two systems on one machine must not log each other out.
const COOKIE_PREFIX: &str = "brigade_operator_";

/// The control port's check of the operator credential.
#[derive(Clone)]
pub struct Gate {
    credential: Arc<OperatorCredential>,
    /// Where the credential is kept, to tell a refused caller where to find it.
    file: Option<PathBuf>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate").field("file", &self.file).finish()
    }
}

/// Why a change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// No credential at all.
    Missing,
    /// A bearer credential that is not this system's.
    WrongBearer,
    /// A console cookie that is not this system's (a new credential since the login).
    StaleSession,
    /// The console's cookie without the proof that the console's page sent it.
    CrossSite,
}

impl Refusal {
    fn name(self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::WrongBearer => "wrong bearer credential",
            Refusal::StaleSession => "stale console session",
            Refusal::CrossSite => "console cookie without same-origin proof",
        }
    }
}

impl Gate {
    /// A gate that accepts `credential`, kept in `file` when there is one.
    pub fn new(credential: OperatorCredential, file: Option<PathBuf>) -> Gate {
        Gate {
            credential: Arc::new(credential),
            file,
        }
    }

    /// `router` with every route but `GET` and `HEAD` behind this gate.
    pub fn protect(&self, router: Router) -> Router {
        router.route_layer(axum::middleware::from_fn_with_state(
            self.clone(),
            require_operator,
        ))
    }

    /// Whether `headers` carry a console session cookie for this system (not whether the
    /// request may change anything: that also needs the same-origin proof).
    pub fn has_console_session(&self, headers: &HeaderMap) -> bool {
        cookie(headers, &cookie_name(headers))
            .is_some_and(|session| self.credential.matches_console_session(session))
    }

    /// Whether `token` (the login link's) is the credential.
    pub fn opens_console(&self, token: &str) -> bool {
        self.credential.matches(token)
    }

    /// The `Set-Cookie` value that logs the browser in to this control port's console:
    /// `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page sends it), for
    /// the browser's session only.
    pub fn session_cookie(&self, headers: &HeaderMap) -> String {
        format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict",
            cookie_name(headers),
            self.credential.console_session()
        )
    }

    fn check(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        if let Some(authorization) = headers.get(header::AUTHORIZATION) {
            let presented = authorization
                .to_str()
                .ok()
                .and_then(bearer)
                .unwrap_or_default();
            return if self.credential.matches(presented) {
                Ok(())
            } else {
                Err(Refusal::WrongBearer)
            };
        }
        let Some(session) = cookie(headers, &cookie_name(headers)) else {
            return Err(Refusal::Missing);
        };
        if !self.credential.matches_console_session(session) {
            return Err(Refusal::StaleSession);
        }
        if same_origin(headers) {
            Ok(())
        } else {
            Err(Refusal::CrossSite)
        }
    }

    fn where_kept(&self) -> String {
        match &self.file {
            Some(file) => file.display().to_string(),
            None => "DATA_DIR/operator-token".to_owned(),
        }
    }

    fn problem(&self, refusal: Refusal) -> Problem {
        let how = format!(
            "send `Authorization: Bearer <the contents of {file}>` (the brigade commands do: run \
             them where `brigade up` ran, or pass --operator-token-file {file}, or set \
             BRIGADE_OPERATOR_TOKEN), or open the console through the login link `brigade up` \
             printed",
            file = self.where_kept()
        );
        match refusal {
            Refusal::Missing => unauthenticated(format!(
                "changing the system needs the operator credential: {how}"
            )),
            Refusal::WrongBearer => unauthenticated(format!(
                "the operator credential sent is not this system's: {how}"
            )),
            Refusal::StaleSession => unauthenticated(format!(
                "the console's login is not valid for the system running now (it has another \
                 operator credential): {how}"
            )),
            Refusal::CrossSite => Problem::new(
                StatusCode::FORBIDDEN,
                CROSS_SITE,
                "Cross-site request",
                format!(
                    "the console's login cookie came without the proof that the console's own \
                     page sent this request (the {CONSOLE_HEADER} header, and a same-origin \
                     Origin): changes from other pages are refused; programs {how}"
                ),
            ),
        }
    }
}

fn unauthenticated(detail: String) -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        CREDENTIAL_REQUIRED,
        "Operator credential required",
        detail,
    )
}

async fn require_operator(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    match gate.check(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            tracing::warn!(
                method = %request.method(),
                path = request.uri().path(),
                refusal = refusal.name(),
                "control port: change refused without the operator credential"
            );
            let mut response = gate.problem(refusal).into_response();
            if refusal != Refusal::CrossSite {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    http::HeaderValue::from_static("Bearer realm=\"brigade-operator\""),
                );
            }
            response
        }
    }
}

/// The token of a `Bearer` authorization (the scheme is case-insensitive, RFC 9110).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// `brigade_operator_PORT`, PORT being the one the browser addressed (from `Host`).
fn cookie_name(headers: &HeaderMap) -> String {
    let port = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|host| host.rsplit_once(':'))
        .and_then(|(_, port)| port.parse::<u16>().ok())
        .unwrap_or(80);
    format!("{COOKIE_PREFIX}{port}")
}

/// The value of the cookie `name`, from every `Cookie` header.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Whether a cookie-borne request proves it comes from the control port's own page.
fn same_origin(headers: &HeaderMap) -> bool {
    if !headers.contains_key(CONSOLE_HEADER) {
        return false;
    }
    let text = |name: http::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let origin_ok = match (text(header::ORIGIN), text(header::HOST)) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin == format!("http://{host}"),
        (Some(_), None) => false,
    };
    let fetch_site_ok = text(http::HeaderName::from_static("sec-fetch-site"))
        .is_none_or(|site| site == "same-origin");
    origin_ok && fetch_site_ok
}

#[cfg(test)]
mod tests;
