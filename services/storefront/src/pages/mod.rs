//! One module per page or flow. Each handler asks the services it needs through their typed
//! clients, turns their answers into a view (strings ready to show: money formatted, dates
//! written out) and renders its template; a failure becomes a page that says what happened
//! (`crate::failure`), or the same form with the problem next to its field.

mod account;
mod browse;
mod cart;
mod checkout;
mod home;
mod orders;
mod product;

use axum::extract::Path;
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use catalog_api::Product;
use recommendations_api::Recommendation;
use uuid::Uuid;

use crate::session::SessionHandle;
use crate::Storefront;

pub fn router() -> Router<Storefront> {
    Router::new()
        .route("/", get(home::show))
        .route("/categories/{slug}", get(browse::category))
        .route("/search", get(browse::search))
        .route("/products/{id}", get(product::show))
        .route("/cart", get(cart::show))
        .route("/cart/add", post(cart::add))
        .route("/cart/items/{id}", post(cart::set_quantity))
        .route("/cart/items/{id}/remove", post(cart::remove))
        .route("/signup", get(account::sign_up_form).post(account::sign_up))
        .route("/login", get(account::log_in_form).post(account::log_in))
        .route("/logout", post(account::log_out))
        .route("/checkout", get(checkout::form).post(checkout::place))
        .route("/orders", get(orders::list))
        .route("/orders/{id}", get(orders::show))
        .route("/orders/{id}/status", get(orders::status))
        .route("/{*path}", get(unknown_page))
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
    pub fn of(product: &Product) -> ProductCard {
        ProductCard {
            id: product.id,
            name: product.name.clone(),
            price: crate::format_money(&product.price),
            image_url: product.image_url.clone(),
        }
    }

    pub fn recommended(item: &Recommendation) -> ProductCard {
        ProductCard {
            id: item.product_id,
            name: item.name.clone(),
            price: crate::format_money(&item.price),
            image_url: item.image_url.clone(),
        }
    }
}

/// A line of an order or of the cart being ordered: its name, quantity and total.
#[derive(Debug, Clone)]
pub struct LineSummary {
    pub name: String,
    pub quantity: u32,
    pub total: String,
}

impl LineSummary {
    pub fn of(name: &str, quantity: u32, total: &catalog_api::Money) -> LineSummary {
        LineSummary {
            name: name.to_owned(),
            quantity,
            total: crate::format_money(total),
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

/// A UUID from a path segment, or `None` (the page answers "not found").
pub fn parse_id(segment: &str) -> Option<Uuid> {
    Uuid::parse_str(segment).ok()
}
