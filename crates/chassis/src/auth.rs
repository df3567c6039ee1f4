//! Verifying shoppers' access tokens, locally, in every service.
//!
//! The users service signs access tokens (JWT, EdDSA over Ed25519, with a key id) and publishes
//! its public keys as a JWKS at [`JWKS_PATH`]. Every other service verifies a token with those
//! keys, cached: no call to users per request. An unknown key id (users has rotated its key)
//! makes the verifier fetch the JWKS again, at most once per [`REFRESH_MIN_INTERVAL`], so that a
//! stream of forged key ids cannot turn into a stream of calls.
//!
//! What is checked: the algorithm is pinned to EdDSA (a token naming any other, `none`
//! included, is refused), the signature, the expiry (with [`LEEWAY`]), the issuer and the
//! audience. [`Principal`] is the axum extractor a handler takes to require a signed-in user;
//! its rejection is a 401 problem with `WWW-Authenticate: Bearer`.
//!
//! The same key cache verifies service identities ([`crate::identity`]) with other claims and
//! another issuer: [`Verifier::verify_as`] takes the claims type and the [`Validation`], and
//! [`Verifier::from_url`] fetches the keys from a JWKS URL (the control plane's, or a
//! cluster's) rather than from the users service.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};
use tokio::time::Instant;
use uuid::Uuid;

use crate::client::ServiceClient;
use crate::problem::Problem;

/// Who signs access tokens (`iss`).
pub const ISSUER: &str = "brigade-users";
/// Whom access tokens are for (`aud`).
pub const AUDIENCE: &str = "brigade";
/// The one signing algorithm accepted.
pub const ALGORITHM: Algorithm = Algorithm::EdDSA;
/// Where the users service publishes its public keys ([`crate::routes::JWKS`]).
pub const JWKS_PATH: &str = crate::routes::JWKS;
/// The service that publishes the keys.
pub const KEY_SERVICE: &str = "users";
/// Clock difference tolerated when checking expiry.
pub const LEEWAY: Duration = Duration::from_secs(30);
/// The least time between two fetches of the JWKS prompted by unknown key ids.
pub const REFRESH_MIN_INTERVAL: Duration = Duration::from_secs(1);
/// The longest token accepted in a header; longer is not a token of ours.
const MAX_TOKEN_BYTES: usize = 4096;

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user's id.
    pub sub: Uuid,
    pub email: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expires at, Unix seconds.
    pub exp: u64,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("sign in first: this needs an `Authorization: Bearer <token>` header")]
    Missing,
    #[error("the Authorization header must be `Bearer <token>`")]
    Malformed,
    #[error("the access token has expired; sign in again")]
    Expired,
    #[error("the access token was not signed by a current key (key id `{0}`)")]
    UnknownKey(String),
    #[error("the access token is invalid: {0}")]
    Invalid(String),
    #[error("the signing keys cannot be fetched: {0}")]
    KeysUnavailable(String),
}

impl From<AuthError> for Problem {
    fn from(error: AuthError) -> Problem {
        match error {
            AuthError::KeysUnavailable(_) => Problem::service_unavailable(
                "access tokens cannot be checked right now; try again shortly",
            ),
            other => Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                other.to_string(),
            ),
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let unauthorized = !matches!(self, AuthError::KeysUnavailable(_));
        let mut response = Problem::from(self).into_response();
        if unauthorized {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="brigade""#),
            );
        }
        response
    }
}

/// Where the verifier gets its keys.
enum KeySource {
    /// The users service, through discovery.
    Service(ServiceClient),
    /// A fixed set (tests, or a deployment that mounts the keys).
    Fixed,
    /// A JWKS at a URL outside discovery (the control plane's identity authority, a cluster's
    /// service-account issuer).
    Url(Box<crate::plain::PlainClient>, String),
}

struct Inner {
    source: KeySource,
    keys: RwLock<HashMap<String, Arc<DecodingKey>>>,
    /// Held while fetching, so that concurrent misses cause one fetch; remembers when it ran.
    last_fetch: Mutex<Option<Instant>>,
    /// How many fetches have run: a miss that waited for the lock while one ran uses its result
    /// rather than waiting for another.
    fetches: std::sync::atomic::AtomicU64,
    validation: Validation,
    remembered: Remembered,
}

/// How many verified tokens a verifier remembers.
const REMEMBERED_TOKENS: usize = 4096;

/// Tokens this verifier checked in full, with what the check found. The same bytes under the
/// same key and the same [`Validation`] pass the same way again, except for time: so a token
/// seen before costs a map lookup and its expiry (and not-before) checked against the clock,
/// instead of an Ed25519 verification and the decompression of the key's curve point that
/// jsonwebtoken does on every decode, even one that skips the signature (together the largest
/// cost of an authenticated hop, #14). A service's identity is presented on every call for its
/// five minutes, a shopper's token on every request. A key replaced by a fetch is another
/// `Arc`, so what it verified no longer counts (and is forgotten); a token under another
/// validation (audience, issuer, leeway) is checked in full. Only tokens that passed enter, so
/// forged ones cannot fill it; when full it is emptied at once.
#[derive(Default)]
struct Remembered {
    tokens: std::sync::Mutex<HashMap<Box<str>, Arc<Passed>>>,
}

/// What a token's full check found.
struct Passed {
    /// Its key id, and the key that verified its signature.
    kid: Box<str>,
    key: Arc<DecodingKey>,
    /// The checks it passed.
    validation: Validation,
    claims: serde_json::Value,
    /// Its `exp` and `nbf` (Unix seconds), checked again on every use.
    exp: Option<u64>,
    nbf: Option<u64>,
}

impl Remembered {
    fn get(&self, token: &str) -> Option<Arc<Passed>> {
        self.tokens
            .lock()
            .ok()
            .and_then(|tokens| tokens.get(token).cloned())
    }

    fn remember(&self, token: &str, passed: Passed) {
        if let Ok(mut tokens) = self.tokens.lock() {
            if tokens.len() >= REMEMBERED_TOKENS {
                tokens.clear();
            }
            tokens.insert(token.into(), Arc::new(passed));
        }
    }

    fn forget_all(&self) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.clear();
        }
    }
}

/// A numeric date claim as jsonwebtoken reads it (an integer, or a float cut to seconds).
fn numeric_date(claims: &serde_json::Value, name: &str) -> Option<u64> {
    let value = claims.get(name)?;
    value
        .as_u64()
        .or_else(|| value.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
}

/// The time checks of jsonwebtoken's validation, for a token whose other checks passed: `now`
/// in Unix seconds.
fn still_in_time(
    exp: Option<u64>,
    nbf: Option<u64>,
    validation: &Validation,
    now: u64,
) -> Result<(), AuthError> {
    if !(validation.validate_exp || validation.validate_nbf) {
        return Ok(());
    }
    let reject_before = validation.reject_tokens_expiring_in_less_than;
    if let Some(exp) = exp {
        if exp < reject_before {
            return Err(AuthError::Invalid("it expires too soon".to_owned()));
        }
        if validation.validate_exp && exp - reject_before < now.saturating_sub(validation.leeway) {
            return Err(AuthError::Expired);
        }
    }
    if let Some(nbf) = nbf {
        if validation.validate_nbf && nbf > now.saturating_add(validation.leeway) {
            return Err(AuthError::Invalid("it is not valid yet".to_owned()));
        }
    }
    Ok(())
}

/// Verifies access tokens with the users service's published keys. Cheap to clone; share one
/// per process.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").finish_non_exhaustive()
    }
}

/// The checks of a signed token, shared by shoppers' access tokens ([`Verifier`]) and services'
/// identity tokens ([`crate::guard`]): signed with one of `algorithms` (the first is the
/// default), by `issuer`, for `audience`, with an expiry and a subject, `leeway` allowed for
/// clocks that disagree.
pub(crate) fn token_validation(
    algorithms: &[Algorithm],
    issuer: &str,
    audience: &str,
    leeway: Duration,
) -> Validation {
    let mut validation = Validation::new(algorithms[0]);
    validation.algorithms = algorithms.to_vec();
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = leeway.as_secs();
    validation
}

impl Verifier {
    /// Fetches keys from the users service through `client` (bound to [`KEY_SERVICE`]).
    pub fn from_service(client: ServiceClient) -> Verifier {
        Verifier::with_source(KeySource::Service(client), HashMap::new())
    }

    /// Fetches keys from the JWKS at `url` (and again when a token names a key it lacks).
    pub fn from_url(url: &str) -> Verifier {
        let client = crate::plain::PlainClient::new(Duration::from_secs(5));
        Verifier::with_source(
            KeySource::Url(Box::new(client), url.to_owned()),
            HashMap::new(),
        )
    }

    /// Uses exactly the keys of `jwks`.
    pub fn from_jwks(jwks: &JwkSet) -> Result<Verifier, AuthError> {
        Ok(Verifier::with_source(KeySource::Fixed, decode_set(jwks)?))
    }

    fn with_source(source: KeySource, keys: HashMap<String, Arc<DecodingKey>>) -> Verifier {
        Verifier {
            inner: Arc::new(Inner {
                source,
                keys: RwLock::new(keys),
                last_fetch: Mutex::new(None),
                fetches: std::sync::atomic::AtomicU64::new(0),
                validation: token_validation(&[ALGORITHM], ISSUER, AUDIENCE, LEEWAY),
                remembered: Remembered::default(),
            }),
        }
    }

    /// Checks a shopper's access `token` and returns what it says.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        self.verify_as(token, &self.inner.validation).await
    }

    /// Checks `token` against `validation` (its algorithms, issuer, audience, required claims)
    /// with this verifier's keys, and returns its claims as `C`.
    pub async fn verify_as<C: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        validation: &Validation,
    ) -> Result<C, AuthError> {
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Malformed);
        }
        if let Some(passed) = self.inner.remembered.get(token) {
            if passed.validation == *validation
                && self
                    .key(&passed.kid)
                    .await
                    .is_some_and(|current| Arc::ptr_eq(&current, &passed.key))
            {
                still_in_time(
                    passed.exp,
                    passed.nbf,
                    validation,
                    jsonwebtoken::get_current_timestamp(),
                )?;
                return serde_json::from_value(passed.claims.clone())
                    .map_err(|e| AuthError::Invalid(e.to_string()));
            }
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            AuthError::Invalid("it is not a well-formed JWT (header.claims.signature)".to_owned())
        })?;
        if !validation.algorithms.contains(&header.alg) {
            return Err(AuthError::Invalid(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::Invalid("the token names no key id".to_owned()))?;
        let key = match self.key(&kid).await {
            Some(key) => key,
            None => {
                self.refresh_for(&kid).await?;
                self.key(&kid)
                    .await
                    .ok_or_else(|| AuthError::UnknownKey(kid.clone()))?
            }
        };
        // A validation that accepts several algorithms (a cluster's RS256 or ES256, the local
        // authority's EdDSA) is narrowed to the token's, which was checked above: jsonwebtoken
        // refuses a key whose family is not that of every algorithm listed.
        let narrowed;
        let checks = if validation.algorithms.len() > 1 {
            let mut one = validation.clone();
            one.algorithms = vec![header.alg];
            narrowed = one;
            &narrowed
        } else {
            validation
        };
        let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key, checks)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
                _ => AuthError::Invalid(e.to_string()),
            })?;
        let typed = serde_json::from_value(claims.clone())
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        self.inner.remembered.remember(
            token,
            Passed {
                kid: kid.into(),
                key,
                validation: validation.clone(),
                exp: numeric_date(&claims, "exp"),
                nbf: numeric_date(&claims, "nbf"),
                claims,
            },
        );
        Ok(typed)
    }

    async fn key(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.inner.keys.read().await.get(kid).cloned()
    }

    /// Fetches the JWKS again because a token names `kid`. When a fetch ran less than
    /// [`REFRESH_MIN_INTERVAL`] ago, waits for the interval to pass rather than refusing: a key
    /// published just after that fetch (a rotation) is then found. A stream of forged key ids
    /// still costs at most one fetch per interval, and only one waiter: the misses that queued
    /// behind a fetch take its answer.
    async fn refresh_for(&self, kid: &str) -> Result<(), AuthError> {
        if matches!(self.inner.source, KeySource::Fixed) {
            return Err(AuthError::UnknownKey(kid.to_owned()));
        }
        use std::sync::atomic::Ordering;
        let fetches_before = self.inner.fetches.load(Ordering::Acquire);
        let mut last_fetch = self.inner.last_fetch.lock().await;
        // Another task may have fetched while this one waited for the lock: its answer stands.
        if self.inner.keys.read().await.contains_key(kid) {
            return Ok(());
        }
        if self.inner.fetches.load(Ordering::Acquire) != fetches_before {
            return Err(AuthError::UnknownKey(kid.to_owned()));
        }
        if let Some(at) = *last_fetch {
            tokio::time::sleep_until(at + REFRESH_MIN_INTERVAL).await;
        }
        *last_fetch = Some(Instant::now());
        self.inner.fetches.fetch_add(1, Ordering::Release);
        let jwks: JwkSet = match &self.inner.source {
            KeySource::Service(client) => client
                .get_json(JWKS_PATH)
                .await
                .map_err(|e| AuthError::KeysUnavailable(e.to_string()))?,
            KeySource::Url(client, url) => client
                .get_json(url)
                .await
                .map_err(|e| AuthError::KeysUnavailable(e.to_string()))?,
            KeySource::Fixed => return Err(AuthError::UnknownKey(kid.to_owned())),
        };
        let keys = decode_set(&jwks)?;
        tracing::info!(keys = keys.len(), "fetched the token signing keys");
        // Replace rather than merge: a key its issuer no longer publishes is no longer trusted.
        *self.inner.keys.write().await = keys;
        self.inner.remembered.forget_all();
        Ok(())
    }
}

fn decode_set(jwks: &JwkSet) -> Result<HashMap<String, Arc<DecodingKey>>, AuthError> {
    let mut keys = HashMap::new();
    for jwk in &jwks.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        let key = DecodingKey::from_jwk(jwk)
            .map_err(|e| AuthError::KeysUnavailable(format!("key {kid}: {e}")))?;
        keys.insert(kid, Arc::new(key));
    }
    Ok(keys)
}

/// The bearer token of `headers`, if there is an Authorization header.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(AuthError::Missing)?
        .to_str()
        .map_err(|_| AuthError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Malformed);
    }
    Ok(token.trim())
}

/// Lets [`Principal`] find the token verifier in a router state's field: what every service
/// whose routes take a signed-in user needs, written once.
///
/// ```ignore
/// #[derive(Clone)]
/// pub struct AppState { pub store: Store, pub verifier: Verifier }
/// brigade_chassis::verifier_in_state!(AppState, verifier);
/// ```
#[macro_export]
macro_rules! verifier_in_state {
    ($state:ty, $field:ident) => {
        impl $crate::auth::FromRef<$state> for $crate::auth::Verifier {
            fn from_ref(state: &$state) -> $crate::auth::Verifier {
                state.$field.clone()
            }
        }
    };
}

/// The trait [`verifier_in_state!`] implements, for services that name it through the chassis.
#[doc(hidden)]
pub use axum::extract::FromRef;

/// A signed-in user, as a handler argument: the request is refused with 401 unless it carries a
/// valid access token. Needs a [`Verifier`] reachable from the router's state (`FromRef`, as
/// [`verifier_in_state!`] implements it).
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: Uuid,
    pub email: String,
    /// The token as received, to pass on to services called on the user's behalf.
    pub token: Arc<str>,
}

impl Principal {
    /// Headers that make a call to another service on this user's behalf.
    pub fn authorization(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&format!("Bearer {}", self.token)) {
            headers.insert(header::AUTHORIZATION, value);
        }
        headers
    }
}

impl<S> FromRequestParts<S> for Principal
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Verifier::from_ref(state);
        let token = bearer_token(&parts.headers)?;
        let claims = verifier.verify(token).await?;
        Ok(Principal {
            user_id: claims.sub,
            email: claims.email,
            token: Arc::from(token),
        })
    }
}

/// An Ed25519 key that signs access tokens, with its key id. The users service keeps these (and
/// rotates them); tests use them to make tokens.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    pkcs8: Vec<u8>,
    encoding: jsonwebtoken::EncodingKey,
    jwk: jsonwebtoken::jwk::Jwk,
}

impl std::fmt::Debug for SigningKey {
    // Never the key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Why a signing key could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("cannot draw randomness from the operating system: {0}")]
    Randomness(String),
    #[error("the stored signing key is not a valid Ed25519 PKCS#8 key: {0}")]
    InvalidKey(String),
    #[error("cannot sign the token: {0}")]
    Sign(String),
}

impl SigningKey {
    /// A new random key named `kid`.
    pub fn generate(kid: &str) -> Result<SigningKey, SigningError> {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        use rand::TryRngCore;
        let mut seed = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut seed)
            .map_err(|e| SigningError::Randomness(e.to_string()))?;
        let der = ed25519_dalek::SigningKey::from_bytes(&seed)
            .to_pkcs8_der()
            .map_err(|e| SigningError::InvalidKey(e.to_string()))?;
        SigningKey::from_pkcs8(kid, der.as_bytes())
    }

    /// A key as stored: its id and its PKCS#8 DER encoding.
    pub fn from_pkcs8(kid: &str, der: &[u8]) -> Result<SigningKey, SigningError> {
        use base64::Engine;
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        use jsonwebtoken::jwk;
        let key = ed25519_dalek::SigningKey::from_pkcs8_der(der)
            .map_err(|e| SigningError::InvalidKey(e.to_string()))?;
        // The public JWK (RFC 8037): jsonwebtoken cannot derive one from an EdDSA key.
        let x =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
        let jwk = jwk::Jwk {
            common: jwk::CommonParameters {
                public_key_use: Some(jwk::PublicKeyUse::Signature),
                key_algorithm: Some(jwk::KeyAlgorithm::EdDSA),
                key_id: Some(kid.to_owned()),
                ..Default::default()
            },
            algorithm: jwk::AlgorithmParameters::OctetKeyPair(jwk::OctetKeyPairParameters {
                key_type: jwk::OctetKeyPairType::OctetKeyPair,
                curve: jwk::EllipticCurve::Ed25519,
                x,
            }),
        };
        Ok(SigningKey {
            kid: kid.to_owned(),
            pkcs8: der.to_vec(),
            encoding: jsonwebtoken::EncodingKey::from_ed_der(der),
            jwk,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key, PKCS#8 DER, for the users service's own store. Never log it.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public half, as published in the JWKS.
    pub fn public_jwk(&self) -> &jsonwebtoken::jwk::Jwk {
        &self.jwk
    }

    /// A signed token carrying `claims` (a shopper's [`Claims`], a service identity's), naming
    /// this key.
    pub fn sign<C: Serialize>(&self, claims: &C) -> Result<String, SigningError> {
        let mut header = jsonwebtoken::Header::new(ALGORITHM);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| SigningError::Sign(e.to_string()))
    }
}

/// Claims for `user_id`/`email`, issued now and valid for `ttl`.
pub fn claims_for(user_id: Uuid, email: &str, ttl: Duration) -> Claims {
    let now = crate::time::unix_ms() / 1000;
    Claims {
        iss: ISSUER.to_owned(),
        aud: AUDIENCE.to_owned(),
        sub: user_id,
        email: email.to_owned(),
        iat: now,
        exp: now + ttl.as_secs(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwks(keys: &[&SigningKey]) -> JwkSet {
        JwkSet {
            keys: keys.iter().map(|k| k.public_jwk().clone()).collect(),
        }
    }

    #[tokio::test]
    async fn a_token_signed_by_a_published_key_is_accepted() {
        let key = SigningKey::generate("k1").unwrap();
        let user = Uuid::new_v4();
        let token = key
            .sign(&claims_for(user, "a@example.com", Duration::from_secs(60)))
            .unwrap();
        let verifier = Verifier::from_jwks(&jwks(&[&key])).unwrap();
        let claims = verifier.verify(&token).await.unwrap();
        assert_eq!(claims.sub, user);
        assert_eq!(claims.email, "a@example.com");
    }

    #[tokio::test]
    async fn forged_expired_and_foreign_tokens_are_refused() {
        let key = SigningKey::generate("k1").unwrap();
        let verifier = Verifier::from_jwks(&jwks(&[&key])).unwrap();
        let user = Uuid::new_v4();

        // Signed by a key with the same id that users never published.
        let impostor = SigningKey::generate("k1").unwrap();
        let forged = impostor
            .sign(&claims_for(user, "a@example.com", Duration::from_secs(60)))
            .unwrap();
        assert!(matches!(
            verifier.verify(&forged).await,
            Err(AuthError::Invalid(_))
        ));

        let mut expired = claims_for(user, "a@example.com", Duration::from_secs(60));
        expired.exp = expired.iat - 3600;
        let expired = key.sign(&expired).unwrap();
        assert!(matches!(
            verifier.verify(&expired).await,
            Err(AuthError::Expired)
        ));

        let mut foreign = claims_for(user, "a@example.com", Duration::from_secs(60));
        foreign.aud = "someone-else".to_owned();
        let foreign = key.sign(&foreign).unwrap();
        assert!(matches!(
            verifier.verify(&foreign).await,
            Err(AuthError::Invalid(_))
        ));

        let unknown = SigningKey::generate("k2")
            .unwrap()
            .sign(&claims_for(user, "a@example.com", Duration::from_secs(60)))
            .unwrap();
        assert!(matches!(
            verifier.verify(&unknown).await,
            Err(AuthError::UnknownKey(_))
        ));

        // `alg: none` with our key id: refused before any key is looked at.
        let header = base64_url(br#"{"alg":"none","typ":"JWT","kid":"k1"}"#);
        let body = base64_url(
            &serde_json::to_vec(&claims_for(user, "a@example.com", Duration::from_secs(60)))
                .unwrap(),
        );
        let unsigned = format!("{header}.{body}.");
        assert!(verifier.verify(&unsigned).await.is_err());
        assert!(verifier.verify("not a token").await.is_err());
    }

    /// A token verified once is not verified again under the same key and validation, but
    /// under a validation it does not meet it is refused, and another signature on the same
    /// header and claims is checked (and refused) as any token is.
    #[tokio::test]
    async fn a_remembered_signature_still_has_its_claims_and_bytes_checked() {
        let key = SigningKey::generate("k1").unwrap();
        let verifier = Verifier::from_jwks(&jwks(&[&key])).unwrap();
        let user = Uuid::new_v4();
        let token = key
            .sign(&claims_for(user, "a@example.com", Duration::from_secs(60)))
            .unwrap();
        for _ in 0..3 {
            assert_eq!(verifier.verify(&token).await.unwrap().sub, user);
        }
        let k1 = verifier.key("k1").await.unwrap();
        let remembered_key = |verifier: &Verifier| {
            verifier
                .inner
                .remembered
                .get(&token)
                .map(|passed| passed.key.clone())
        };
        assert!(remembered_key(&verifier).is_some_and(|by| Arc::ptr_eq(&by, &k1)));
        // A key fetched again is another key, even with the same bytes: what the old one
        // verified counts for nothing, and the token is checked in full under the new one.
        let fetched_again = Arc::new((*k1).clone());
        *verifier.inner.keys.write().await =
            HashMap::from([("k1".to_owned(), fetched_again.clone())]);
        assert_eq!(verifier.verify(&token).await.unwrap().sub, user);
        assert!(remembered_key(&verifier).is_some_and(|by| Arc::ptr_eq(&by, &fetched_again)));
        let elsewhere = token_validation(&[ALGORITHM], ISSUER, "another-audience", LEEWAY);
        assert!(matches!(
            verifier.verify_as::<Claims>(&token, &elsewhere).await,
            Err(AuthError::Invalid(_))
        ));
        // The same header and claims under an impostor's signature: not the remembered bytes.
        let impostor = SigningKey::generate("k1").unwrap();
        let forged_signature = impostor
            .sign(&claims_for(user, "a@example.com", Duration::from_secs(60)))
            .unwrap();
        let (signed, _) = token.rsplit_once('.').unwrap();
        let (_, signature) = forged_signature.rsplit_once('.').unwrap();
        let forged = format!("{signed}.{signature}");
        assert!(matches!(
            verifier.verify(&forged).await,
            Err(AuthError::Invalid(_))
        ));
        assert_eq!(verifier.verify(&token).await.unwrap().sub, user);
    }

    /// A remembered token's expiry and not-before are held against the clock on every use, as
    /// jsonwebtoken holds them (with the leeway, and tokens expiring too soon refused).
    #[test]
    fn a_remembered_token_is_held_against_the_clock() {
        let validation = token_validation(&[ALGORITHM], ISSUER, AUDIENCE, LEEWAY);
        let leeway = LEEWAY.as_secs();
        let now = 1_800_000_000;
        assert!(still_in_time(Some(now + 60), None, &validation, now).is_ok());
        assert!(still_in_time(Some(now - leeway), None, &validation, now).is_ok());
        assert!(matches!(
            still_in_time(Some(now - leeway - 1), None, &validation, now),
            Err(AuthError::Expired)
        ));
        let mut with_nbf = validation.clone();
        with_nbf.validate_nbf = true;
        assert!(still_in_time(Some(now + 60), Some(now + leeway), &with_nbf, now).is_ok());
        assert!(matches!(
            still_in_time(Some(now + 60), Some(now + leeway + 1), &with_nbf, now),
            Err(AuthError::Invalid(_))
        ));
        let mut soon = validation.clone();
        soon.reject_tokens_expiring_in_less_than = 120;
        assert!(still_in_time(Some(now + 60), None, &soon, now).is_err());
        assert!(still_in_time(Some(now + 200), None, &soon, now).is_ok());
    }

    /// An expired token is refused even when its signature was remembered while it was valid.
    #[tokio::test]
    async fn a_remembered_token_expires() {
        let key = SigningKey::generate("k1").unwrap();
        let verifier = Verifier::from_jwks(&jwks(&[&key])).unwrap();
        let mut claims = claims_for(Uuid::new_v4(), "a@example.com", Duration::from_secs(60));
        // Past its expiry, but within the leeway: accepted, and remembered.
        claims.exp = claims.iat - LEEWAY.as_secs() / 2;
        let token = key.sign(&claims).unwrap();
        verifier.verify(&token).await.unwrap();
        let strict = {
            let mut strict = token_validation(&[ALGORITHM], ISSUER, AUDIENCE, LEEWAY);
            strict.leeway = 0;
            strict
        };
        assert!(matches!(
            verifier.verify_as::<Claims>(&token, &strict).await,
            Err(AuthError::Expired)
        ));
        // Remembered under the verifier's own validation, and used again once its time is up
        // (the clock moved on: here its remembered expiry is moved back instead): refused.
        let passed = verifier.inner.remembered.get(&token).unwrap();
        verifier.inner.remembered.remember(
            &token,
            Passed {
                kid: passed.kid.clone(),
                key: passed.key.clone(),
                validation: passed.validation.clone(),
                claims: passed.claims.clone(),
                exp: Some(claims.iat - LEEWAY.as_secs() - 60),
                nbf: None,
            },
        );
        assert!(matches!(
            verifier.verify(&token).await,
            Err(AuthError::Expired)
        ));
    }

    fn base64_url(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn a_stored_key_signs_the_same_way_and_bad_bytes_are_refused() {
        let key = SigningKey::generate("k1").unwrap();
        let again = SigningKey::from_pkcs8("k1", key.pkcs8_der()).unwrap();
        assert_eq!(again.public_jwk(), key.public_jwk());
        assert!(SigningKey::from_pkcs8("k1", b"garbage").is_err());
    }

    #[test]
    fn bearer_tokens_are_read_from_the_authorization_header() {
        let mut headers = HeaderMap::new();
        assert!(matches!(bearer_token(&headers), Err(AuthError::Missing)));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert!(matches!(bearer_token(&headers), Err(AuthError::Malformed)));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc.def.ghi"),
        );
        assert_eq!(bearer_token(&headers).unwrap(), "abc.def.ghi");
    }
}
