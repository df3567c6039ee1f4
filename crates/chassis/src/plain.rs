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

/// The pooled HTTP/1.1 client of calls between services: through an instance's Unix socket when
/// it has one on this machine ([`crate::local_socket`]).
pub(crate) type ServiceHyperClient = Client<crate::local_socket::Connector, Full<Bytes>>;

/// Builds the pooled HTTP/1.1 client of infrastructure calls.
pub(crate) fn hyper_client() -> HyperClient {
    pooled().build(tcp_connector())
}

/// Builds the pooled HTTP/1.1 client of calls between services, with the same settings.
pub(crate) fn service_hyper_client(
    sockets: crate::local_socket::LocalSockets,
) -> ServiceHyperClient {
    pooled().build(crate::local_socket::Connector::new(
        tcp_connector(),
        sockets,
    ))
}

fn tcp_connector() -> HttpConnector {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(2)));
    connector
}

fn pooled() -> hyper_util::client::legacy::Builder {
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(256);
    builder
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

impl Error {
    /// True when the connection closed (or was reset) before any answer came: on a kept-alive
    /// connection, the server closed it, idle or draining, just as the request went out. A
    /// request safe to repeat may then be sent again (RFC 9110 §9.2.2), as browsers do.
    pub fn is_closed_before_answer(&self) -> bool {
        let Error::Transport { source, .. } = self else {
            return false;
        };
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source);
        while let Some(error) = cause {
            if let Some(hyper) = error.downcast_ref::<hyper::Error>() {
                if hyper.is_incomplete_message() || hyper.is_canceled() {
                    return true;
                }
            }
            if let Some(io) = error.downcast_ref::<std::io::Error>() {
                if matches!(
                    io.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                ) {
                    return true;
                }
            }
            cause = error.source();
        }
        false
    }
}

/// Whether `request` may be sent twice with the effect of once: an idempotent method, or any
/// method with an Idempotency-Key.
fn safe_to_repeat<B>(request: &Request<B>) -> bool {
    request.method().is_idempotent()
        || request
            .headers()
            .contains_key(crate::context::IDEMPOTENCY_KEY_HEADER)
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

    /// Sends `request` as [`PlainClient::send_request`] does, and once more when the connection
    /// closed under it before any answer ([`Error::is_closed_before_answer`]) and it is safe to
    /// repeat (an idempotent method, or an Idempotency-Key). The second part says whether it was
    /// sent again.
    pub async fn send_request_resending_closed(
        &self,
        request: Request<Full<Bytes>>,
    ) -> (Result<Answer, Error>, bool) {
        let again = safe_to_repeat(&request).then(|| {
            let mut copy = Request::new(request.body().clone());
            *copy.method_mut() = request.method().clone();
            *copy.uri_mut() = request.uri().clone();
            *copy.headers_mut() = request.headers().clone();
            copy
        });
        match (self.send_request(request).await, again) {
            (Err(error), Some(again)) if error.is_closed_before_answer() => {
                (self.send_request(again).await, true)
            }
            (result, _) => (result, false),
        }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A server that closes each of its first `closes` connections once it has read a request,
    /// answering nothing (a draining server closing a kept-alive connection as a request came),
    /// and answers `200` on the later ones. Counts the requests read.
    async fn closing_server(closes: usize) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/thing", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                if counted.fetch_add(1, Ordering::SeqCst) < closes {
                    drop(socket);
                    continue;
                }
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            }
        });
        (url, requests)
    }

    fn request(method: Method, url: &str, key: Option<&str>) -> Request<Full<Bytes>> {
        let mut request = Request::builder().method(method).uri(url);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.body(Full::new(Bytes::new())).unwrap()
    }

    #[tokio::test]
    async fn a_request_safe_to_repeat_is_sent_again_once_when_the_connection_closes_under_it() {
        let client = PlainClient::new(Duration::from_secs(5));
        for (method, key) in [(Method::GET, None), (Method::POST, Some("k-1"))] {
            let (url, requests) = closing_server(1).await;
            let (answer, resent) = client
                .send_request_resending_closed(request(method.clone(), &url, key))
                .await;
            assert_eq!(answer.unwrap().status, StatusCode::OK, "{method}");
            assert!(resent, "{method}");
            assert_eq!(requests.load(Ordering::SeqCst), 2, "{method}");
        }

        // Closed twice: the second failure is the answer; never a third try.
        let (url, requests) = closing_server(2).await;
        let (answer, resent) = client
            .send_request_resending_closed(request(Method::GET, &url, None))
            .await;
        assert!(answer.unwrap_err().is_closed_before_answer());
        assert!(resent);
        assert_eq!(requests.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_request_unsafe_to_repeat_is_sent_once() {
        let client = PlainClient::new(Duration::from_secs(5));
        let (url, requests) = closing_server(1).await;
        let (answer, resent) = client
            .send_request_resending_closed(request(Method::POST, &url, None))
            .await;
        assert!(answer.unwrap_err().is_closed_before_answer());
        assert!(!resent);
        assert_eq!(requests.load(Ordering::SeqCst), 1);
    }
}
