//! One module per page or flow. Each handler asks the services it needs through their typed
//! clients, turns their answers into a view (strings ready to show: money formatted, dates
//! written out) and renders its template; a failure becomes a page that says what happened
//! (`crate::failure`), or the same form with the problem next to its field.

mod account;
mod browse;
mod cart;
mod checkout;
mod home;
mod messages;
mod orders;
mod product;
mod shipping;

use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use catalog_api::Product;
use recommendations_api::{Recommendation, Recommendations};
use uuid::Uuid;

use crate::currency::Prices;
use crate::session::SessionHandle;
use crate::Storefront;

pub fn router() -> Router<Storefront> {
    Router::new()
        .route("/", get(home::show))
        .route("/categories/{slug}", get(browse::category))
        .route("/search", get(browse::search))
        .route("/products/{id}", get(product::show))
        .route("/cart", get(cart::show))
        // A form's address opened as a page (typed, bookmarked) leads to the cart.
        .route("/cart/add", post(cart::add).get(to_cart))
        .route("/cart/items/{id}", post(cart::change).get(to_cart))
        .route(account::SIGN_UP, get(account::form).post(account::submit))
        .route("/login", get(account::form).post(account::submit))
        .route("/logout", post(account::log_out).get(to_cart))
        .route("/checkout", get(checkout::form).post(checkout::place))
        .route("/currency", post(crate::currency::choose).get(to_cart))
        .route("/orders", get(orders::list))
        .route("/orders/{id}", get(orders::show))
        .route("/orders/{id}/status", get(orders::status))
        .route("/messages", get(messages::list))
        .route("/messages/{id}", get(messages::show))
        .route("/{*path}", get(unknown_page))
}

async fn to_cart() -> Redirect {
    Redirect::to("/cart")
}

async fn unknown_page(session: SessionHandle, _: Path<String>) -> Response {
    crate::failure::not_found(&session, "page")
}

/// A product in a list: what its card shows.
#[derive(Debug, Clone)]
pub struct ProductCard {
    pub id: Uuid,
    pub name: String,
    pub price: String,
    pub image_url: String,
}

impl ProductCard {
    pub fn of(product: &Product, prices: &Prices) -> ProductCard {
        ProductCard {
            id: product.id,
            name: product.name.clone(),
            price: prices.show(&product.price),
            image_url: product.image_url.clone(),
        }
    }

    pub fn recommended(item: &Recommendation, prices: &Prices) -> ProductCard {
        ProductCard {
            id: item.product_id,
            name: item.name.clone(),
            price: prices.show(&item.price),
            image_url: item.image_url.clone(),
        }
    }
}

/// Recommendations, or `None` (logged) when the service could not give them: a page shows
/// itself without them.
pub fn optional_recommendations(
    answer: Result<Recommendations, brigade_chassis::client::Error>,
    page: &str,
) -> Option<Recommendations> {
    match brigade_chassis::client::Availability::of(answer) {
        Ok(brigade_chassis::client::Availability::Available(answer)) => Some(answer),
        Ok(brigade_chassis::client::Availability::Unavailable(error)) | Err(error) => {
            tracing::warn!(%error, page, "a page without recommendations");
            None
        }
    }
}

/// A titled row of product cards (`templates/shelf.html`).
#[derive(Debug, Clone)]
pub struct Shelf {
    /// Unique on its page: the heading's id.
    pub id: &'static str,
    pub heading: &'static str,
    pub cards: Vec<ProductCard>,
}

/// A line of an order or of the cart being ordered: its name, quantity and total.
#[derive(Debug, Clone)]
pub struct LineSummary {
    pub name: String,
    pub quantity: u32,
    pub total: String,
}

impl LineSummary {
    pub fn of(
        name: &str,
        quantity: u32,
        total: &catalog_api::Money,
        prices: &Prices,
    ) -> LineSummary {
        LineSummary {
            name: name.to_owned(),
            quantity,
            total: prices.show(total),
        }
    }
}

/// Where to go after signing in: a path of this shop only (never another site).
pub fn local_path(next: &str) -> &str {
    let local = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    if local {
        next
    } else {
        "/"
    }
}

/// To the log-in page, coming back to `back` after.
pub fn to_log_in(session: &SessionHandle, back: &str, why: &str) -> Redirect {
    session.notify(why);
    Redirect::to(&format!(
        "/login?next={}",
        serde_urlencoded::to_string([("", back)])
            .unwrap_or_default()
            .trim_start_matches('=')
    ))
}

/// The service refused the shopper's token (expired, or signed by a retired key).
pub fn token_refused(error: &brigade_chassis::client::Error) -> bool {
    matches!(error, brigade_chassis::client::Error::Status { problem, .. } if problem.status == 401)
}

/// Signs the shopper out and sends them to log in again, back to `back` after.
pub fn log_in_again(session: &SessionHandle, back: &str) -> Response {
    session.sign_out();
    to_log_in(
        session,
        back,
        "Your session has ended: please log in again.",
    )
    .into_response()
}

/// A call for the signed-in shopper failed: a refused token signs them out (log in again,
/// back to `back`); anything else is `what` being unavailable.
pub fn call_failed(
    session: &SessionHandle,
    error: &brigade_chassis::client::Error,
    back: &str,
    what: &str,
) -> Response {
    if token_refused(error) {
        log_in_again(session, back)
    } else {
        crate::failure::dependency(session, what, error)
    }
}

/// The `page` query parameter of a listing page, from its raw query string: 1 when absent or
/// unreadable (a page number typed wrong shows the first page, not an error).
pub fn page_number(raw: Option<&str>) -> u32 {
    #[derive(Default, serde::Deserialize)]
    struct Paging {
        #[serde(default)]
        page: String,
    }
    let paging: Paging = serde_urlencoded::from_str(raw.unwrap_or_default()).unwrap_or_default();
    paging
        .page
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|p| *p >= 1)
        .unwrap_or(1)
}

/// The pager's links (`templates/pager.html`) of `page` of a listing at `path` with `total`
/// items, `page_size` a page: the previous and the next page, where there is one.
pub fn pager(
    path: &str,
    page: u32,
    page_size: u32,
    total: u64,
) -> (Option<String>, Option<String>) {
    let pages = total.div_ceil(u64::from(page_size));
    (
        (page > 1).then(|| format!("{path}?page={}", page - 1)),
        (u64::from(page) < pages).then(|| format!("{path}?page={}", page + 1)),
    )
}

/// A time in Unix milliseconds, written out for a page (UTC).
pub fn when(at_ms: u64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    i128::from(at_ms)
        .checked_mul(1_000_000)
        .and_then(|nanos| time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok())
        .and_then(|at| at.format(format).ok())
        .unwrap_or_default()
}

/// A call for one of the signed-in shopper's own things (`thing`: "order", "message") failed:
/// none (or another shopper's) is the not-found page; anything else as [`call_failed`], with
/// `what` unavailable.
pub fn own_call_failed(
    session: &SessionHandle,
    error: &brigade_chassis::client::Error,
    back: &str,
    thing: &str,
    what: &str,
) -> Response {
    if error.is_not_found() {
        crate::failure::not_found(session, thing)
    } else {
        call_failed(session, error, back, what)
    }
}

/// A UUID from a path segment, or `None` (the page answers "not found").
pub fn parse_id(segment: &str) -> Option<Uuid> {
    Uuid::parse_str(segment).ok()
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn after_signing_in_only_paths_of_this_shop_are_followed() {
        for (next, followed) in [
            ("/checkout", "/checkout"),
            ("/orders?page=2", "/orders?page=2"),
            ("", "/"),
            ("//evil.example/", "/"),
            ("/\\evil.example", "/"),
            ("https://evil.example/", "/"),
            ("javascript:alert(1)", "/"),
        ] {
            assert_eq!(local_path(next), followed, "{next}");
        }
    }
}
