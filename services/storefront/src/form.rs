//! Forms: every POST body is read here, and refused unless its hidden `csrf` field is the
//! session's token. The fields are strings with defaults, so that any input a browser can send
//! becomes a page with the problem next to its field, never a rejection without a page.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::Response;
use serde::de::DeserializeOwned;

use crate::failure;
use crate::session::SessionHandle;

/// The name of every form's hidden CSRF field.
pub const CSRF_FIELD: &str = "csrf";

/// A form's fields, sent by a page of this session.
#[derive(Debug)]
pub struct CheckedForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for CheckedForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<CheckedForm<T>, Response> {
        let session = request
            .extensions()
            .get::<SessionHandle>()
            .cloned()
            .ok_or_else(|| failure::plain_internal("a form route without a session"))?;
        let unreadable = |session: &SessionHandle| {
            failure::page(
                session,
                StatusCode::BAD_REQUEST,
                "The form could not be read",
                "What the browser sent is not a form this shop understands. Nothing was \
                 changed; go back and try again.",
                ("/", "Go to the home page"),
            )
        };
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|_| unreadable(&session))?;
        let token = csrf_token(&body);
        if !token.is_some_and(|token| session.csrf_matches(&token)) {
            return Err(failure::forged_form(&session));
        }
        serde_urlencoded::from_bytes::<T>(&body)
            .map(CheckedForm)
            .map_err(|_| unreadable(&session))
    }
}

fn csrf_token(body: &[u8]) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(name, _)| name == CSRF_FIELD)
        .map(|(_, value)| value)
}

/// The problems of a form, by field name (`form` for the form as a whole).
#[derive(Debug, Clone, Default)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, problem: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_insert_with(|| problem.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problem with `field`, or "" (templates show it only when there is one).
    pub fn of(&self, field: &str) -> &str {
        self.0.get(field).map_or("", String::as_str)
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }
}

/// A field's problem as the shopper reads it: the rule's own words with a capital letter.
pub fn sentence(detail: &str) -> String {
    let mut chars = detail.chars();
    let mut text: String = chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !text.ends_with('.') {
        text.push('.');
    }
    text
}
