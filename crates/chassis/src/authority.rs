//! The local identity authority: what `brigade up`'s control plane runs to give the instances it
//! starts their identities.
//!
//! It holds Ed25519 signing keys (the chassis' [`SigningKey`], the one the users service signs
//! shoppers' tokens with) and publishes their public halves as a JWKS at
//! [`crate::identity::JWKS_PATH`]. An instance proves the bootstrap secret it was started with
//! ([`Authority::enrol`]) at [`crate::identity::TOKEN_PATH`] and gets a token for one callee, valid for
//! [`Authority::token_life`]; an operator proves the operator credential (checked by whoever
//! owns it, [`OperatorCheck`]) at [`crate::identity::OPERATOR_TOKEN_PATH`].
//!
//! Rotation without downtime, in two steps: [`Authority::publish_next`] publishes a new key
//! without signing with it, and [`Authority::promote`] (no sooner than [`Authority::publish_ahead`]
//! later) signs with it from then on; the key it replaces stays published until every token it
//! signed has expired, so a token in flight always finds its key. Verifiers that meet a key id
//! they do not know fetch the JWKS again ([`crate::auth::Verifier`]).
//!
//! The keys live only in the control plane's memory: its instances end with it, and so do the
//! tokens' uses.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{HeaderMap, StatusCode};
use jsonwebtoken::jwk::JwkSet;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::auth::{bearer_token, SigningError, SigningKey};
use crate::identity::{
    IdentityClaims, PresentError, Presenter, TokenAnswer, TokenFuture, TokenRequest,
    AUTHORITY_ISSUER, JWKS_PATH, OPERATOR, OPERATOR_TOKEN_PATH, TOKEN_PATH,
};
use crate::problem::Problem;

/// Whether a presented operator credential is the right one. The control plane gives the
/// authority the check of the credential it owns (a file only its user can read).
pub type OperatorCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// How long tokens live by default: minutes, so that a leaked one is soon worthless.
pub const DEFAULT_TOKEN_LIFE: Duration = Duration::from_secs(300);

/// How long a new key is published before it signs: longer than a verifier's least time
/// between two JWKS fetches, so that the fetch a first token with it causes finds it.
pub const DEFAULT_PUBLISH_AHEAD: Duration = Duration::from_secs(2);

struct Retired {
    key: SigningKey,
    /// When the last token it signed expires.
    until: Instant,
}

struct Ring {
    current: SigningKey,
    next: Option<(SigningKey, Instant)>,
    retired: Vec<Retired>,
    generation: u64,
}

struct Inner {
    ring: RwLock<Ring>,
    /// Bootstrap secret → the services it may speak for (several in a colocated process).
    enrolled: RwLock<HashMap<String, Vec<String>>>,
    token_life: Duration,
    publish_ahead: Duration,
}

/// The identity authority. Cheap to clone.
#[derive(Clone)]
pub struct Authority {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Authority {
    // Never the keys nor the secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("token_life", &self.inner.token_life)
            .finish_non_exhaustive()
    }
}

fn key_id(generation: u64) -> String {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    format!("cp-{generation}-{}", &nonce[..8])
}

fn random_secret() -> Result<String, SigningError> {
    use base64::Engine;
    use rand::TryRngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| SigningError::Randomness(e.to_string()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

impl Authority {
    /// An authority with a fresh key, minting tokens that live `token_life`.
    pub fn new(token_life: Duration, publish_ahead: Duration) -> Result<Authority, SigningError> {
        Ok(Authority {
            inner: Arc::new(Inner {
                ring: RwLock::new(Ring {
                    current: SigningKey::generate(&key_id(1))?,
                    next: None,
                    retired: Vec::new(),
                    generation: 1,
                }),
                enrolled: RwLock::default(),
                token_life,
                publish_ahead,
            }),
        })
    }

    pub fn token_life(&self) -> Duration {
        self.inner.token_life
    }

    pub fn publish_ahead(&self) -> Duration {
        self.inner.publish_ahead
    }

    /// A new bootstrap secret for a process that runs `services`: what it proves to get their
    /// tokens. Give it through the environment ([`crate::identity::BOOTSTRAP_SECRET_ENV`]), never log it.
    pub fn enrol(&self, services: &[String]) -> Result<String, SigningError> {
        let secret = random_secret()?;
        self.inner
            .enrolled
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(secret.clone(), services.to_vec());
        Ok(secret)
    }

    /// Whether `secret` may speak for `service`.
    fn may_speak_for(&self, secret: &str, service: &str) -> bool {
        self.inner
            .enrolled
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(secret)
            .is_some_and(|services| services.iter().any(|s| s == service))
    }

    /// A token saying `subject` calls `audience`, signed with the current key.
    pub fn mint(&self, subject: &str, audience: &str) -> Result<String, SigningError> {
        let now = crate::time::unix_ms() / 1000;
        let claims = IdentityClaims {
            iss: AUTHORITY_ISSUER.to_owned(),
            sub: subject.to_owned(),
            aud: audience.to_owned(),
            iat: now,
            exp: now + self.inner.token_life.as_secs(),
        };
        let ring = self
            .inner
            .ring
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        ring.current.sign(&claims)
    }

    /// The public keys: the current one, the next (published ahead) and those retired whose
    /// tokens may still be alive.
    pub fn jwks(&self) -> JwkSet {
        let now = Instant::now();
        let ring = self
            .inner
            .ring
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let keys = std::iter::once(&ring.current)
            .chain(ring.next.as_ref().map(|(key, _)| key))
            .chain(
                ring.retired
                    .iter()
                    .filter(|r| r.until > now)
                    .map(|r| &r.key),
            )
            .map(|key| key.public_jwk().clone())
            .collect();
        JwkSet { keys }
    }

    /// Rotation's first step: a new key, published but not yet signing.
    pub fn publish_next(&self) -> Result<(), SigningError> {
        let mut ring = self
            .inner
            .ring
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if ring.next.is_none() {
            ring.generation += 1;
            let key = SigningKey::generate(&key_id(ring.generation))?;
            ring.next = Some((key, Instant::now()));
        }
        Ok(())
    }

    /// Rotation's second step: the published next key signs from now on, once it has been
    /// published for [`Authority::publish_ahead`]; the key it replaces stays published until its
    /// last token expires. Returns whether it promoted.
    pub fn promote(&self) -> bool {
        let now = Instant::now();
        let mut ring = self
            .inner
            .ring
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let ready = matches!(&ring.next, Some((_, at)) if now.duration_since(*at) >= self.inner.publish_ahead);
        if !ready {
            return false;
        }
        let Some((next, _)) = ring.next.take() else {
            return false;
        };
        let old = std::mem::replace(&mut ring.current, next);
        // Its last token may have been minted a moment ago; verifiers allow some clock leeway.
        let until = now + self.inner.token_life + crate::guard::LEEWAY;
        ring.retired.retain(|r| r.until > now);
        ring.retired.push(Retired { key: old, until });
        true
    }

    /// Rotates the key every `every`, until the returned task is dropped or aborted.
    pub fn rotate_every(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let authority = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(error) = authority.publish_next() {
                    tracing::error!(%error, "cannot make the next identity signing key");
                    continue;
                }
                tokio::time::sleep(authority.publish_ahead()).await;
                if authority.promote() {
                    tracing::info!("rotated the identity signing key");
                }
            }
        })
    }

    /// The authority's routes on the control port: its JWKS, and tokens for instances and for
    /// operators (`operator` checks the operator credential).
    pub fn routes(&self, operator: OperatorCheck) -> Router {
        Router::new()
            .route(JWKS_PATH, get(serve_jwks))
            .route(TOKEN_PATH, post(service_token))
            .route(OPERATOR_TOKEN_PATH, post(operator_token))
            .with_state(Served {
                authority: self.clone(),
                operator,
            })
    }
}

/// Tokens minted in this process by `authority` for `subject`: how the control plane calls
/// instances as [`OPERATOR`], and how the test harness's instances call each other.
pub struct Minted {
    authority: Authority,
    subject: String,
}

impl std::fmt::Debug for Minted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minted")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl Minted {
    pub fn new(authority: Authority, subject: &str) -> Minted {
        Minted {
            authority,
            subject: subject.to_owned(),
        }
    }
}

impl Presenter for Minted {
    fn token_for<'a>(&'a self, audience: &'a str) -> TokenFuture<'a> {
        let token = self
            .authority
            .mint(&self.subject, audience)
            .map(Arc::from)
            .map_err(|e| PresentError::Authority(e.to_string()));
        Box::pin(std::future::ready(token))
    }
}

#[derive(Clone)]
struct Served {
    authority: Authority,
    operator: OperatorCheck,
}

async fn serve_jwks(State(served): State<Served>) -> Json<JwkSet> {
    Json(served.authority.jwks())
}

fn refused(detail: &str) -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "identity-required",
        "Identity required",
        detail,
    )
}

// The problem is the route's answer, made once per request: its size is what a problem answer
// weighs anyway.
#[allow(clippy::result_large_err)]
fn answer(
    authority: &Authority,
    subject: &str,
    audience: &str,
) -> Result<Json<TokenAnswer>, Problem> {
    if !valid_name(audience) {
        return Err(Problem::invalid_parameter(
            "audience",
            "must be a service name: 1 to 63 lowercase letters, digits and dashes",
        ));
    }
    let token = authority.mint(subject, audience).map_err(|error| {
        tracing::error!(%error, "cannot sign an identity token");
        Problem::internal()
    })?;
    Ok(Json(TokenAnswer {
        token,
        expires_in_s: authority.token_life().as_secs(),
    }))
}

fn valid_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

async fn service_token(
    State(served): State<Served>,
    headers: HeaderMap,
    Json(request): Json<TokenRequest>,
) -> Result<Json<TokenAnswer>, Problem> {
    let secret = bearer_token(&headers)
        .map_err(|_| refused("prove the bootstrap secret as `Authorization: Bearer <secret>`"))?;
    if !served.authority.may_speak_for(secret, &request.subject) {
        tracing::warn!(subject = %request.subject, "identity token refused: the bootstrap secret does not speak for this service");
        return Err(refused(
            "this bootstrap secret was not given to that service",
        ));
    }
    answer(&served.authority, &request.subject, &request.audience)
}

/// What an operator asks for.
#[derive(Debug, Serialize, Deserialize)]
pub struct OperatorTokenRequest {
    /// The service to be called.
    pub audience: String,
}

async fn operator_token(
    State(served): State<Served>,
    headers: HeaderMap,
    Json(request): Json<OperatorTokenRequest>,
) -> Result<Json<TokenAnswer>, Problem> {
    let credential = bearer_token(&headers).map_err(|_| {
        refused("prove the operator credential as `Authorization: Bearer <credential>`")
    })?;
    if !(served.operator)(credential) {
        tracing::warn!("operator token refused: wrong operator credential");
        return Err(refused("the operator credential sent is not this system's"));
    }
    answer(&served.authority, OPERATOR, &request.audience)
}

/// The subject of the test harness's own identity, which every route of an instance the
/// harness starts accepts: tests call any route as the harness unless they say otherwise.
#[cfg(feature = "testing")]
pub const HARNESS: &str = "test-harness";

/// The test process's identity authority: instances started by the harness present its tokens
/// (each under its own service name) and check their callers' with its keys, and tests mint
/// tokens for any caller with it.
#[cfg(feature = "testing")]
#[derive(Debug, Clone)]
pub struct Harness {
    authority: Authority,
}

#[cfg(feature = "testing")]
impl Harness {
    /// The one harness of this test process.
    pub fn get() -> Harness {
        static HARNESS_AUTHORITY: std::sync::OnceLock<Harness> = std::sync::OnceLock::new();
        HARNESS_AUTHORITY
            .get_or_init(|| Harness {
                authority: Authority::new(
                    std::time::Duration::from_secs(3600),
                    std::time::Duration::ZERO,
                )
                .unwrap_or_else(|e| panic!("cannot make the test harness's authority: {e}")),
            })
            .clone()
    }

    /// The harness's authority (its keys), e.g. to build a guard of one's own.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// A token saying `caller` calls `audience`.
    pub fn token(&self, caller: &str, audience: &str) -> String {
        self.authority
            .mint(caller, audience)
            .unwrap_or_else(|e| panic!("cannot mint a test identity token: {e}"))
    }

    /// What `service`, started by the harness, presents to the services it calls.
    pub fn presenter(&self, service: &str) -> crate::identity::Identity {
        std::sync::Arc::new(Minted::new(self.authority.clone(), service))
    }

    /// How `service`, started by the harness, checks its callers: the harness's tokens for it,
    /// [`HARNESS`] accepted on every route.
    pub fn guard(&self, service: &str, metrics: &crate::metrics::Metrics) -> crate::guard::Guard {
        let verifier = crate::auth::Verifier::from_jwks(&self.authority.jwks())
            .unwrap_or_else(|e| panic!("the harness's keys are not a JWKS: {e}"));
        crate::guard::Guard::signed(
            service,
            verifier,
            crate::identity::AUTHORITY_ISSUER,
            service,
            metrics,
        )
        .accepting_everywhere(HARNESS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authority() -> Authority {
        Authority::new(Duration::from_secs(60), Duration::ZERO).unwrap()
    }

    #[test]
    fn a_rotation_publishes_the_next_key_first_and_keeps_the_old_one() {
        let authority = authority();
        let first = authority.jwks();
        assert_eq!(first.keys.len(), 1);
        authority.publish_next().unwrap();
        assert_eq!(authority.jwks().keys.len(), 2, "the next key is published");
        let before = authority.mint("orders", "payments").unwrap();
        assert!(authority.promote());
        let after = authority.mint("orders", "payments").unwrap();
        let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
        assert_ne!(kid(&before), kid(&after), "the new key signs");
        let published: Vec<_> = authority
            .jwks()
            .keys
            .into_iter()
            .filter_map(|k| k.common.key_id)
            .collect();
        assert!(published.contains(&kid(&before)), "the old key stays");
        assert!(published.contains(&kid(&after)));
    }

    #[test]
    fn a_secret_speaks_only_for_the_services_it_was_given_for() {
        let authority = authority();
        let secret = authority.enrol(&["orders".to_owned()]).unwrap();
        assert!(authority.may_speak_for(&secret, "orders"));
        assert!(!authority.may_speak_for(&secret, "payments"));
        assert!(!authority.may_speak_for("guess", "orders"));
        assert!(valid_name("payments"));
        assert!(!valid_name("Payments"));
        assert!(!valid_name(""));
    }
}
