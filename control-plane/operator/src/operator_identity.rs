//! An operator's identity for calling a service directly (setting stock, refunding a charge,
//! rotating the users' keys): a short-lived token for that service from the control plane's
//! identity authority, which mints it for whoever proves the operator credential.

use bytes::Bytes;
use http::{header, Method, Request};
use http_body_util::Full;

use brigade_chassis::authority::OperatorTokenRequest;
use brigade_chassis::identity::OPERATOR_TOKEN_PATH;
use brigade_chassis::plain::PlainClient;

/// Why no operator token could be had.
#[derive(Debug, thiserror::Error)]
pub enum OperatorIdentityError {
    #[error("cannot ask the control plane for an operator token: {0}")]
    Call(String),
    #[error("the control plane refused an operator token ({status}): {body}")]
    Refused { status: u16, body: String },
}

/// A token saying the operator calls `service`, from the control plane at `control_url`,
/// proving `credential`. Send it in the `Brigade-Identity` header.
pub async fn operator_identity(
    control_url: &str,
    credential: &str,
    service: &str,
) -> Result<String, OperatorIdentityError> {
    let body = serde_json::to_vec(&OperatorTokenRequest {
        audience: service.to_owned(),
    })
    .map_err(|e| OperatorIdentityError::Call(e.to_string()))?;
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!(
            "{}{OPERATOR_TOKEN_PATH}",
            control_url.trim_end_matches('/')
        ))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {credential}"))
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| OperatorIdentityError::Call(e.to_string()))?;
    let answer = PlainClient::default()
        .send_request(request)
        .await
        .map_err(|e| OperatorIdentityError::Call(e.to_string()))?;
    if !answer.status.is_success() {
        return Err(OperatorIdentityError::Refused {
            status: answer.status.as_u16(),
            body: String::from_utf8_lossy(&answer.body)
                .chars()
                .take(300)
                .collect(),
        });
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        token: String,
    }
    let answer: Answer = serde_json::from_slice(&answer.body)
        .map_err(|e| OperatorIdentityError::Call(format!("unreadable answer: {e}")))?;
    Ok(answer.token)
}
