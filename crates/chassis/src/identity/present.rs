//! The caller's side of service identity: where the token of each call comes from.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{header, Method, Request};
use http_body_util::Full;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::plain::PlainClient;

/// The environment variable through which the control plane gives an instance its bootstrap
/// secret. Never a flag: a command line is visible to every user of the machine.
pub const BOOTSTRAP_SECRET_ENV: &str = "BRIGADE_IDENTITY_SECRET";

/// Where an instance, proving its bootstrap secret, gets a token for one callee (on the
/// control port).
pub const TOKEN_PATH: &str = "/v1/identity/token";

/// Why no identity token could be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PresentError {
    #[error("the identity authority refused or failed: {0}")]
    Authority(String),
    #[error("cannot read the identity token file {path}: {reason}")]
    File { path: String, reason: String },
}

/// The future of a token.
pub type TokenFuture<'a> = BoxFuture<'a, Result<Arc<str>, PresentError>>;

/// Something that gives the token proving this process's identity to `audience` (the callee's
/// service name).
pub trait Presenter: Send + Sync + std::fmt::Debug + 'static {
    fn token_for<'a>(&'a self, audience: &'a str) -> TokenFuture<'a>;
}

/// A process's identity, shared by all its clients.
pub type Identity = Arc<dyn Presenter>;

/// What the authority is asked for.
#[derive(Debug, Serialize, Deserialize)]
pub struct TokenRequest {
    /// The service asking: one of those the bootstrap secret was given for.
    pub subject: String,
    /// The service to be called.
    pub audience: String,
}

/// What the authority answers.
#[derive(Debug, Serialize, Deserialize)]
pub struct TokenAnswer {
    pub token: String,
    /// Seconds until the token expires.
    pub expires_in_s: u64,
}

struct Cached {
    token: Arc<str>,
    /// When to ask for a new one: two thirds into its life, so that a slow or briefly absent
    /// authority still leaves a third of it.
    renew_at: Instant,
    expires_at: Instant,
}

/// Tokens from the local identity authority, one per callee, cached and renewed before expiry.
pub struct AuthorityTokens {
    client: PlainClient,
    url: String,
    secret: String,
    subject: String,
    cache: std::sync::RwLock<HashMap<String, Arc<Cached>>>,
    /// Held while asking the authority, so that concurrent calls to a new callee ask once.
    fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for AuthorityTokens {
    // Never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorityTokens")
            .field("url", &self.url)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl AuthorityTokens {
    /// Tokens for `subject` from the authority at `authority_url` (the control plane's base
    /// URL), proving `secret`.
    pub fn new(authority_url: &str, secret: String, subject: &str) -> AuthorityTokens {
        AuthorityTokens::at(authority_url, TOKEN_PATH, secret, subject)
    }

    /// The operator's tokens from the authority at `authority_url`, proving the operator
    /// credential `credential`: how the operator's tools (`brigade check`, `brigade chaos`)
    /// call instances directly.
    pub fn operator(authority_url: &str, credential: String) -> AuthorityTokens {
        AuthorityTokens::at(
            authority_url,
            super::OPERATOR_TOKEN_PATH,
            credential,
            super::OPERATOR,
        )
    }

    fn at(authority_url: &str, path: &str, secret: String, subject: &str) -> AuthorityTokens {
        AuthorityTokens {
            client: PlainClient::new(Duration::from_secs(2)),
            url: format!("{}{path}", authority_url.trim_end_matches('/')),
            secret,
            subject: subject.to_owned(),
            cache: std::sync::RwLock::default(),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    fn cached(&self, audience: &str) -> Option<Arc<Cached>> {
        self.cache.read().ok()?.get(audience).cloned()
    }

    async fn token(&self, audience: &str) -> Result<Arc<str>, PresentError> {
        if let Some(cached) = self.cached(audience) {
            if Instant::now() < cached.renew_at {
                return Ok(cached.token.clone());
            }
        }
        let _fetching = self.fetching.lock().await;
        let cached = self.cached(audience);
        if let Some(cached) = &cached {
            if Instant::now() < cached.renew_at {
                return Ok(cached.token.clone());
            }
        }
        match self.fetch(audience).await {
            Ok(fresh) => {
                let token = fresh.token.clone();
                if let Ok(mut cache) = self.cache.write() {
                    cache.insert(audience.to_owned(), Arc::new(fresh));
                }
                Ok(token)
            }
            // The authority is briefly away: the token in hand is still good until it expires.
            Err(error) => match cached {
                Some(cached) if Instant::now() < cached.expires_at => {
                    tracing::warn!(%error, audience, "cannot renew the identity token; using the current one until it expires");
                    Ok(cached.token.clone())
                }
                _ => Err(error),
            },
        }
    }

    async fn fetch(&self, audience: &str) -> Result<Cached, PresentError> {
        let body = serde_json::to_vec(&TokenRequest {
            subject: self.subject.clone(),
            audience: audience.to_owned(),
        })
        .map_err(|e| PresentError::Authority(e.to_string()))?;
        let request = Request::builder()
            .method(Method::POST)
            .uri(&self.url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {}", self.secret))
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| PresentError::Authority(e.to_string()))?;
        let asked = Instant::now();
        let answer = self
            .client
            .send_request(request)
            .await
            .map_err(|e| PresentError::Authority(e.to_string()))?;
        if !answer.status.is_success() {
            // The authority's problem says why (never with the secret, which it does not echo).
            let why = serde_json::from_slice::<crate::problem::Problem>(&answer.body)
                .map(|p| format!(": {}", p.detail))
                .unwrap_or_default();
            return Err(PresentError::Authority(format!(
                "{} answered {}{why}",
                self.url, answer.status
            )));
        }
        let answer: TokenAnswer = serde_json::from_slice(&answer.body)
            .map_err(|e| PresentError::Authority(format!("unreadable answer: {e}")))?;
        let life = Duration::from_secs(answer.expires_in_s);
        Ok(Cached {
            token: Arc::from(answer.token),
            renew_at: asked + life * 2 / 3,
            expires_at: asked + life,
        })
    }
}

impl Presenter for AuthorityTokens {
    fn token_for<'a>(&'a self, audience: &'a str) -> TokenFuture<'a> {
        Box::pin(self.token(audience))
    }
}

/// The token a platform mounts for this process (a Kubernetes projected ServiceAccount token,
/// whose audience is the whole system's), read again when the file changes: the kubelet
/// rewrites it before it expires.
pub struct FileToken {
    path: PathBuf,
    current: std::sync::RwLock<Option<(SystemTime, Arc<str>)>>,
}

impl std::fmt::Debug for FileToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileToken")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl FileToken {
    pub fn new(path: PathBuf) -> FileToken {
        FileToken {
            path,
            current: std::sync::RwLock::new(None),
        }
    }

    fn token(&self) -> Result<Arc<str>, PresentError> {
        let failed = |reason: String| PresentError::File {
            path: self.path.display().to_string(),
            reason,
        };
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .map_err(|e| failed(e.to_string()))?;
        if let Ok(current) = self.current.read() {
            if let Some((at, token)) = &*current {
                if *at == modified {
                    return Ok(token.clone());
                }
            }
        }
        let text = std::fs::read_to_string(&self.path).map_err(|e| failed(e.to_string()))?;
        let token: Arc<str> = Arc::from(text.trim());
        if token.is_empty() {
            return Err(failed("it is empty".to_owned()));
        }
        if let Ok(mut current) = self.current.write() {
            *current = Some((modified, token.clone()));
        }
        Ok(token)
    }
}

impl Presenter for FileToken {
    fn token_for<'a>(&'a self, _audience: &'a str) -> TokenFuture<'a> {
        Box::pin(std::future::ready(self.token()))
    }
}

/// A development identity: the service's name, unsigned. Anyone can claim it, so only callees
/// that run with `--identity dev` themselves accept it.
#[derive(Debug)]
pub struct DevIdentity {
    token: Arc<str>,
}

impl DevIdentity {
    pub fn new(service: &str) -> DevIdentity {
        DevIdentity {
            token: Arc::from(format!("{}{service}", super::DEV_PREFIX)),
        }
    }
}

impl Presenter for DevIdentity {
    fn token_for<'a>(&'a self, _audience: &'a str) -> TokenFuture<'a> {
        Box::pin(std::future::ready(Ok(self.token.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_mounted_token_is_read_again_when_the_platform_rewrites_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "first\n").unwrap();
        let tokens = FileToken::new(path.clone());
        assert_eq!(&*tokens.token_for("payments").await.unwrap(), "first");
        // A later modification time, as the kubelet's atomic rewrite gives.
        std::fs::write(&path, "second").unwrap();
        let later = SystemTime::now() + Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert_eq!(&*tokens.token_for("payments").await.unwrap(), "second");
        std::fs::remove_file(&path).unwrap();
        assert!(tokens.token_for("payments").await.is_err());
    }
}
