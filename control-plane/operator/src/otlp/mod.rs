//! What the three OTLP/HTTP receivers ([`crate::traces`], [`crate::logs`],
//! [`crate::otlp_metrics`]) share, per the OTLP specification's HTTP transport: a body is
//! protobuf (`application/x-protobuf`) or OTLP JSON (`application/json`), anything else is
//! refused with 415; a body that does not decode is a 400 problem naming why; the answer is in
//! the request's encoding, with refused items as a partial success. And how their lists read
//! a query's parameters ([`non_empty`], [`number`]).
//!
//! `sdk_tests` sends logs and metrics with the OpenTelemetry SDK's own exporters.

#[cfg(test)]
mod sdk_tests;

use axum::response::{IntoResponse, Response};
use brigade_chassis::extract::Json;
use brigade_chassis::problem::quoted;
use brigade_chassis::validation::ValidationError;
use brigade_chassis::Problem;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The largest export accepted: a batch of 512 spans or records (the SDKs' default) with room
/// to spare.
pub const MAX_EXPORT_BYTES: usize = 8 * 1024 * 1024;

pub const PROTOBUF: &str = "application/x-protobuf";
pub const JSON: &str = "application/json";

/// The encoding of a request, and so of its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

/// The body's media type, without parameters.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
}

/// Decodes an export `T` from a request; `what` names it in problems ("trace", "logs"…). The
/// error is the problem to answer (boxed: it is large, and the rare case).
pub fn decode<T>(
    headers: &HeaderMap,
    body: &Bytes,
    what: &str,
) -> Result<(T, Encoding), Box<Problem>>
where
    T: Message + Default + DeserializeOwned,
{
    let encoding = match media_type(headers).as_deref() {
        Some(PROTOBUF) => Encoding::Protobuf,
        Some(JSON) => Encoding::Json,
        _ => {
            return Err(Problem::unsupported_media_type(format!(
                "an OTLP export is {PROTOBUF} or {JSON}"
            ))
            .into())
        }
    };
    let decoded = match encoding {
        Encoding::Protobuf => T::decode(body.clone()).map_err(|e| e.to_string()),
        Encoding::Json => serde_json::from_slice::<T>(body).map_err(|e| e.to_string()),
    };
    decoded
        .map(|request| (request, encoding))
        .map_err(|reason| {
            Problem::bad_request(format!("the body is not an OTLP {what} export: {reason}")).into()
        })
}

/// A parameter `name` that must not be empty when given.
pub fn non_empty(name: &str, value: Option<String>) -> Result<Option<String>, ValidationError> {
    match value {
        Some(text) if text.is_empty() => Err(ValidationError::new(name, "must not be empty")),
        other => Ok(other),
    }
}

/// A parameter `name` that must be a whole number from `min` to `max`.
pub fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    name: &str,
    text: &str,
    min: T,
    max: T,
) -> Result<T, ValidationError> {
    match text.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(ValidationError::new(
            name,
            format!("{} is not a whole number from {min} to {max}", quoted(text)),
        )),
    }
}

/// How every receiver answers an export: decodes the request `Req` (`what` names it in
/// problems), lets `handle` keep what it takes and say what it refused, and answers that in the
/// request's encoding.
pub fn receive<Req, Resp>(
    headers: &HeaderMap,
    body: &Bytes,
    what: &str,
    handle: impl FnOnce(Req) -> Resp,
) -> Response
where
    Req: Message + Default + DeserializeOwned,
    Resp: Message + Serialize,
{
    match decode::<Req>(headers, body, what) {
        Ok((request, encoding)) => answer(encoding, handle(request)),
        Err(problem) => (*problem).into_response(),
    }
}

/// The OTLP answer `response`, in the request's encoding.
pub fn answer<T: Message + Serialize>(encoding: Encoding, response: T) -> Response {
    match encoding {
        Encoding::Protobuf => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROTOBUF))],
            response.encode_to_vec(),
        )
            .into_response(),
        Encoding::Json => {
            // A full success is `{}`, not `{"partialSuccess": null}`: OTLP JSON leaves an unset
            // field out.
            let mut value = serde_json::to_value(&response).unwrap_or_default();
            if let serde_json::Value::Object(fields) = &mut value {
                fields.retain(|_, field| !field.is_null());
            }
            Json(value).into_response()
        }
    }
}

/// Lower-case hex of an id.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a hex id of `len` bytes, `None` when it is not one.
pub fn unhex(text: &str, len: usize) -> Option<Vec<u8>> {
    if text.len() != len * 2 {
        return None;
    }
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect()
}

/// The `service.name` of a resource (`unknown_service` per the conventions when absent).
pub fn service_of(resource: &Resource) -> String {
    string_attribute(&resource.attributes, "service.name")
        .unwrap_or_else(|| "unknown_service".to_owned())
}

/// The value of a string attribute.
pub fn string_attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| match &v.value {
            Some(any_value::Value::StringValue(s)) => Some(s.clone()),
            _ => None,
        })
}

/// The attribute `key` with the text `value`.
pub fn text_attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

/// The last of `groups` when `same` says it is the one, else a new one made by `new`: how an
/// export is rebuilt in order, consecutive items of one resource (or scope) sharing a group.
pub fn last_or_push<T>(
    groups: &mut Vec<T>,
    same: impl Fn(&T) -> bool,
    new: impl FnOnce() -> T,
) -> &mut T {
    if !groups.last().is_some_and(same) {
        groups.push(new());
    }
    let last = groups.len() - 1;
    &mut groups[last]
}
