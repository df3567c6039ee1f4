//! A plain JSON-over-HTTP client for infrastructure endpoints with a known address (the registry,
//! the control plane, an instance's `/readyz`). Calls between services use
//! [`ServiceClient`](crate::client::ServiceClient) instead, which adds discovery and the rest.

use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The largest response body read, so a misbehaving peer cannot exhaust memory.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

pub(crate) type HyperClient = Client<HttpConnector, Full<Bytes>>;

/// Builds the pooled HTTP/1.1 client every chassis client shares the settings of.
pub(crate) fn hyper_client() -> HyperClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(2)));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(256)
        .build(connector)
}

/// Errors of a plain call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("{url} did not answer within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("cannot reach {url}: {source}")]
    Transport {
        url: String,
        source: hyper_util::client::legacy::Error,
    },
    #[error("reading the answer of {url} failed: {reason}")]
    Body { url: String, reason: String },
    #[error("{url} answered {status}: {body}")]
    Status {
        url: String,
        status: StatusCode,
        body: String,
    },
    #[error("{url} answered with JSON that could not be read: {source}")]
    Decode {
        url: String,
        source: serde_json::Error,
    },
    #[error("cannot encode the request body: {0}")]
    Encode(serde_json::Error),
}

/// A response: status, headers and body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// A cheap-to-clone client with a per-call timeout.
#[derive(Debug, Clone)]
pub struct PlainClient {
    http: HyperClient,
    timeout: Duration,
}

impl Default for PlainClient {
    fn default() -> Self {
        PlainClient::new(Duration::from_secs(5))
    }
}

impl PlainClient {
    pub fn new(timeout: Duration) -> PlainClient {
        PlainClient {
            http: hyper_client(),
            timeout,
        }
    }

    /// The same client with another per-call timeout.
    pub fn with_timeout(&self, timeout: Duration) -> PlainClient {
        PlainClient {
            http: self.http.clone(),
            timeout,
        }
    }

    /// Sends a request and returns whatever status came back.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<Bytes>,
    ) -> Result<Answer, Error> {
        let mut builder = Request::builder().method(method).uri(url);
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        let request = builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| Error::InvalidUrl {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        self.send_request(request).await
    }

    /// Sends a request built by the caller (e.g. with headers of its own).
    pub async fn send_request(&self, request: Request<Full<Bytes>>) -> Result<Answer, Error> {
        let url = request.uri().to_string();
        let call = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|source| Error::Transport {
                    url: url.clone(),
                    source,
                })?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| Error::Body {
                    url: url.clone(),
                    reason: e.to_string(),
                })?
                .to_bytes();
            Ok(Answer {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| Error::Timeout {
                url: url.clone(),
                timeout: self.timeout,
            })?
    }

    /// GET and decode a 2xx JSON answer.
    pub async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, Error> {
        let answer = self.send(Method::GET, url, None).await?;
        decode(url, answer)
    }

    /// Sends `body` as JSON and decodes a 2xx JSON answer.
    pub async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        body: &B,
    ) -> Result<T, Error> {
        let body = serde_json::to_vec(body).map_err(Error::Encode)?;
        let answer = self.send(method, url, Some(Bytes::from(body))).await?;
        decode(url, answer)
    }
}

fn decode<T: DeserializeOwned>(url: &str, answer: Answer) -> Result<T, Error> {
    if !answer.status.is_success() {
        return Err(Error::Status {
            url: url.to_owned(),
            status: answer.status,
            body: String::from_utf8_lossy(&answer.body)
                .chars()
                .take(500)
                .collect(),
        });
    }
    serde_json::from_slice(&answer.body).map_err(|source| Error::Decode {
        url: url.to_owned(),
        source,
    })
}
