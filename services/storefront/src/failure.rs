//! The pages shown when something fails: a heading, a sentence saying what happened and what
//! still holds, and a link to go on. Never a bare 500, never a stack of internals.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use brigade_chassis::client::Error as ClientError;

use crate::layout::Layout;
use crate::session::SessionHandle;

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct FailurePage {
    layout: Layout,
    heading: String,
    message: String,
    next_href: String,
    next_label: String,
}

/// A page saying `heading` and `message`, with a link to `next` (href, label).
pub fn page(
    session: &SessionHandle,
    status: StatusCode,
    heading: &str,
    message: &str,
    next: (&str, &str),
) -> Response {
    let page = FailurePage {
        layout: Layout::new(session, heading),
        heading: heading.to_owned(),
        message: message.to_owned(),
        next_href: next.0.to_owned(),
        next_label: next.1.to_owned(),
    };
    (status, page).into_response()
}

pub fn not_found(session: &SessionHandle, what: &str) -> Response {
    page(
        session,
        StatusCode::NOT_FOUND,
        "Not found",
        &format!("There is no {what} here. It may have been removed, or the address mistyped."),
        ("/", "Go to the home page"),
    )
}

/// A form that did not come from this session's pages (no or another CSRF token): refused.
pub fn forged_form(session: &SessionHandle) -> Response {
    page(
        session,
        StatusCode::FORBIDDEN,
        "This form has expired",
        "The form was sent without this session's security token (it may come from an old \
         tab, or from another site). Nothing was changed. Go back, reload the page and try again.",
        ("/", "Go to the home page"),
    )
}

/// A dependency the page cannot do without failed: `what` says what cannot be shown or done
/// ("The catalog", "Your cart").
pub fn dependency(session: &SessionHandle, what: &str, error: &ClientError) -> Response {
    tracing::warn!(%error, "a page's dependency failed");
    let when = match error {
        ClientError::Timeout { .. } => "did not answer in time",
        _ => "is unavailable right now",
    };
    page(
        session,
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        &format!("{what} {when}. Nothing you did was lost; please try again in a moment."),
        ("/", "Go to the home page"),
    )
}

/// When even the session is missing (a route wired without it): a plain page.
pub fn plain_internal(why: &str) -> Response {
    tracing::error!(why, "storefront misconfigured");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong on our side. Please try again.",
    )
        .into_response()
}
