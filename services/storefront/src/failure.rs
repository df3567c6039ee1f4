//! The pages shown when something fails: a heading, a sentence saying what happened and what
//! still holds, and a link to go on. Never a bare 500, never a stack of internals.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use brigade_chassis::client::Error as ClientError;
use brigade_chassis::problem::{Problem, ProblemPage};
use brigade_chassis::ratelimit::RateLimited;

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

/// Too many attempts (log-in, sign-up, checkout) from this address, for this account or by
/// this shopper: 429 with `Retry-After`, and a sentence saying when to try again.
pub fn rate_limited(session: &SessionHandle, limited: &RateLimited) -> Response {
    let seconds = limited.retry_after_seconds();
    let when = if seconds <= 90 {
        format!("{seconds} seconds")
    } else {
        format!("{} minutes", seconds.div_ceil(60))
    };
    limited.stamp(page(
        session,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
        &format!(
            "There have been too many attempts in a short time, so this one was not tried. \
             Nothing was changed. Please try again in {when}."
        ),
        ("/", "Go to the home page"),
    ))
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

/// How the chassis' own refusals look to a shopper: overloaded (503), too slow (504), a method a
/// page does not take (405) or a panic (500) each become this page with a sentence and a way
/// on, with the refusal's status (and `Retry-After`) kept. They are answered before the session
/// is read, so the frame is a visitor's (no account links); the security headers are stamped
/// here because these answers never pass through the router's layers.
pub fn problem_page() -> ProblemPage {
    ProblemPage::new(|problem: &Problem| {
        let (heading, message) = sentence(problem);
        let page = FailurePage {
            layout: Layout::without_session(heading),
            heading: heading.to_owned(),
            message: message.to_owned(),
            next_href: "/".to_owned(),
            next_label: "Go to the home page".to_owned(),
        };
        let mut response = page.into_response();
        crate::security::stamp(response.headers_mut());
        response
    })
}

/// A heading and a sentence for each refusal the chassis makes.
fn sentence(problem: &Problem) -> (&'static str, &'static str) {
    match problem.code() {
        "overloaded" => (
            "The shop is very busy",
            "So many people are shopping right now that this page could not be served. Nothing \
             you did was lost; please try again in a few seconds.",
        ),
        "deadline-exceeded" => (
            "This took too long",
            "The shop could not finish this page in time. If you were placing an order, look at \
             your orders before trying again: an order is never charged twice.",
        ),
        "not-found" | "method-not-allowed" => (
            "Not found",
            "There is no page here. It may have been removed, or the address mistyped.",
        ),
        _ => (
            "Something went wrong",
            "Something went wrong on our side. Nothing you did was lost; please try again.",
        ),
    }
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
