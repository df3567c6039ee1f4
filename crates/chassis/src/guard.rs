//! The callee's side of service identity: who is calling, and whether this route takes calls
//! from them.
//!
//! The chassis puts the instance's [`Guard`] in every request's extensions; each protected route
//! declares, next to itself, the services it accepts:
//!
//! ```ignore
//! .route("/v1/charges", post(charge).route_layer(callers(&["orders"])))
//! ```
//!
//! Before the handler (and its body extraction) runs, [`callers`] verifies the
//! [`crate::identity::HEADER`] token: none or an invalid one is `401 identity-required`, a valid one from
//! a service the route does not accept is `403 caller-not-accepted`; both are logged (never the
//! token) and counted (`brigade_identity_refused`). The handler may take the [`Caller`].
//! Routes without the layer (health, readiness, metrics, OpenAPI, the public edge's) take
//! anyone.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{FromRequestParts, MatchedPath, Request};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use http::request::Parts;
use http::StatusCode;
use jsonwebtoken::{Algorithm, Validation};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::auth::{token_validation, AuthError, Verifier};
use crate::identity::{service_of_subject, IdentityClaims, AUTHORITY_ISSUER, DEV_PREFIX, HEADER};
use crate::metrics::{IdentityRefusalLabels, Metrics};
use crate::problem::Problem;

/// Clock difference tolerated when checking an identity token's expiry: tokens live minutes.
pub const LEEWAY: Duration = Duration::from_secs(5);

/// The service that made the request, as its verified identity says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub service: Arc<str>,
}

/// Why a call was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("this route needs the calling service's identity in the `{HEADER}` header")]
    Missing,
    #[error("the caller's identity is not valid: {0}")]
    Invalid(String),
    #[error("{caller} may not call this route; it accepts {}", .accepted.join(", "))]
    NotAccepted {
        caller: Arc<str>,
        accepted: &'static [&'static str],
    },
    #[error("the identity signing keys cannot be fetched: {0}")]
    KeysUnavailable(String),
}

impl Refusal {
    fn reason(&self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::Invalid(_) => "invalid",
            Refusal::NotAccepted { .. } => "not_accepted",
            Refusal::KeysUnavailable(_) => "keys_unavailable",
        }
    }
}

impl From<Refusal> for Problem {
    fn from(refusal: Refusal) -> Problem {
        match &refusal {
            Refusal::Missing | Refusal::Invalid(_) => Problem::new(
                StatusCode::UNAUTHORIZED,
                "identity-required",
                "Identity required",
                refusal.to_string(),
            ),
            Refusal::NotAccepted { caller, .. } => {
                let caller = caller.to_string();
                Problem::new(
                    StatusCode::FORBIDDEN,
                    "caller-not-accepted",
                    "Caller not accepted",
                    refusal.to_string(),
                )
                .with("caller", caller)
            }
            Refusal::KeysUnavailable(_) => Problem::service_unavailable(
                "the caller's identity cannot be checked right now; try again shortly",
            ),
        }
    }
}

impl From<AuthError> for Refusal {
    fn from(error: AuthError) -> Refusal {
        match error {
            AuthError::KeysUnavailable(reason) => Refusal::KeysUnavailable(reason),
            AuthError::Expired => Refusal::Invalid("the token has expired".to_owned()),
            AuthError::UnknownKey(kid) => Refusal::Invalid(format!(
                "the token was not signed by a current key (key id `{kid}`)"
            )),
            AuthError::Malformed | AuthError::Missing => {
                Refusal::Invalid("it is not a token".to_owned())
            }
            AuthError::Invalid(reason) => Refusal::Invalid(reason),
        }
    }
}

enum Mode {
    /// Tokens signed by a key of a JWKS: the local authority's, or a cluster's.
    Signed {
        verifier: Verifier,
        // Boxed: the rules are large, and read once per call.
        validation: Box<Validation>,
    },
    /// Unsigned `dev:<service>` names (`--identity dev`).
    Dev,
}

struct Inner {
    service: String,
    mode: Mode,
    refused: Family<IdentityRefusalLabels, Counter>,
    /// A subject every route accepts: only the chassis' test harness sets it.
    everywhere: Option<String>,
}

/// Checks the identity of an instance's callers. Cheap to clone; one per instance.
#[derive(Clone)]
pub struct Guard {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("service", &self.inner.service)
            .finish_non_exhaustive()
    }
}

impl Guard {
    fn new(service: &str, mode: Mode, metrics: &Metrics) -> Guard {
        Guard {
            inner: Arc::new(Inner {
                service: service.to_owned(),
                mode,
                refused: metrics.server.identity_refused.clone(),
                everywhere: None,
            }),
        }
    }

    /// Callers of `service` prove tokens of the local authority ([`AUTHORITY_ISSUER`]) for
    /// `service`, verified with the keys at `jwks_url`.
    pub fn authority(service: &str, jwks_url: &str, metrics: &Metrics) -> Guard {
        Guard::signed(
            service,
            Verifier::from_url(jwks_url),
            AUTHORITY_ISSUER,
            service,
            metrics,
        )
    }

    /// Callers prove tokens of `issuer` for `audience`, verified with `verifier`'s keys: a
    /// cluster's projected ServiceAccount tokens (RS256 or ES256, the platform's choice), or the
    /// local authority's (EdDSA).
    pub fn signed(
        service: &str,
        verifier: Verifier,
        issuer: &str,
        audience: &str,
        metrics: &Metrics,
    ) -> Guard {
        let algorithms = [Algorithm::EdDSA, Algorithm::RS256, Algorithm::ES256];
        let validation = token_validation(&algorithms, issuer, audience, LEEWAY);
        Guard::new(
            service,
            Mode::Signed {
                verifier,
                validation: Box::new(validation),
            },
            metrics,
        )
    }

    /// Callers name themselves, unsigned (`--identity dev`): for a service started by hand.
    pub fn dev(service: &str, metrics: &Metrics) -> Guard {
        Guard::new(service, Mode::Dev, metrics)
    }

    /// This guard, with every route also accepting `subject`: how the chassis' test harness
    /// calls any route of a service under test.
    #[cfg(feature = "testing")]
    pub fn accepting_everywhere(self, subject: &str) -> Guard {
        let inner = &*self.inner;
        let mode = match &inner.mode {
            Mode::Signed {
                verifier,
                validation,
            } => Mode::Signed {
                verifier: verifier.clone(),
                validation: validation.clone(),
            },
            Mode::Dev => Mode::Dev,
        };
        Guard {
            inner: Arc::new(Inner {
                service: inner.service.clone(),
                mode,
                refused: inner.refused.clone(),
                everywhere: Some(subject.to_owned()),
            }),
        }
    }

    /// The service whose callers this guard checks.
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// The caller that `headers` prove, whatever the route.
    pub async fn identify(&self, headers: &http::HeaderMap) -> Result<Caller, Refusal> {
        let token = headers
            .get(HEADER)
            .ok_or(Refusal::Missing)?
            .to_str()
            .map_err(|_| Refusal::Invalid("the header is not text".to_owned()))?
            .trim();
        let subject = match &self.inner.mode {
            Mode::Signed {
                verifier,
                validation,
            } => {
                verifier
                    .verify_as::<IdentityClaims>(token, validation)
                    .await?
                    .sub
            }
            Mode::Dev => token
                .strip_prefix(DEV_PREFIX)
                .filter(|name| !name.is_empty())
                .ok_or_else(|| {
                    Refusal::Invalid(format!(
                        "this instance runs with --identity dev and takes only `{DEV_PREFIX}<service>`"
                    ))
                })?
                .to_owned(),
        };
        Ok(Caller {
            service: Arc::from(service_of_subject(&subject)),
        })
    }

    /// The caller of `headers`, if `accepted` lists it.
    pub async fn admit(
        &self,
        headers: &http::HeaderMap,
        accepted: &'static [&'static str],
    ) -> Result<Caller, Refusal> {
        let caller = self.identify(headers).await?;
        let everywhere = self.inner.everywhere.as_deref() == Some(&*caller.service);
        if everywhere || accepted.contains(&&*caller.service) {
            Ok(caller)
        } else {
            Err(Refusal::NotAccepted {
                caller: caller.service,
                accepted,
            })
        }
    }

    /// Logs and counts `refusal` of a call to `route`.
    fn record(&self, route: &str, refusal: &Refusal) {
        tracing::warn!(route, reason = refusal.reason(), detail = %refusal, "call refused for its caller's identity");
        self.inner
            .refused
            .get_or_create(&IdentityRefusalLabels {
                route: Arc::from(route),
                reason: refusal.reason(),
            })
            .inc();
    }
}

/// The route accepts calls from the `accepted` services only (and [`crate::identity::OPERATOR`] when it
/// lists it). Put it on the route with `route_layer`.
pub fn callers(accepted: &'static [&'static str]) -> Callers {
    Callers { accepted }
}

/// The layer of [`callers`].
#[derive(Debug, Clone, Copy)]
pub struct Callers {
    accepted: &'static [&'static str],
}

impl<S> tower::Layer<S> for Callers {
    type Service = CallersService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallersService {
            inner,
            accepted: self.accepted,
        }
    }
}

/// The service of [`Callers`].
#[derive(Debug, Clone)]
pub struct CallersService<S> {
    inner: S,
    accepted: &'static [&'static str],
}

impl<S> tower::Service<Request> for CallersService<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // The clone is ready only once polled; the one that was polled serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let accepted = self.accepted;
        Box::pin(async move {
            let route = request.extensions().get::<MatchedPath>().map_or_else(
                || request.uri().path().to_owned(),
                |m| m.as_str().to_owned(),
            );
            let Some(guard) = request.extensions().get::<Guard>().cloned() else {
                tracing::error!(
                    route,
                    "no identity guard on this instance: the route is refused"
                );
                return Ok(Problem::from(Refusal::Missing).into_response());
            };
            match guard.admit(request.headers(), accepted).await {
                Ok(caller) => {
                    request.extensions_mut().insert(caller);
                    inner.call(request).await
                }
                Err(refusal) => {
                    guard.record(&route, &refusal);
                    Ok(Problem::from(refusal).into_response())
                }
            }
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            tracing::error!("a handler takes the caller on a route without `callers`");
            Problem::internal()
        })
    }
}
