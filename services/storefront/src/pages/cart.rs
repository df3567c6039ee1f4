//! `/cart`: the cart, its quantities changed and lines removed, and a shipping estimate for a
//! chosen country (`super::shipping`); `/cart/add` from a product page.
//!
//! A signed-in shopper's cart is the cart service's. A shopper not signed in yet keeps their
//! lines in the session cookie (at most `MAX_GUEST_LINES`), priced by the catalog when shown,
//! and moved into their cart when they sign up or log in ([`adopt_guest_cart`]).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use brigade_chassis::client::Error as ClientError;
use cart_api::{problems, Cart, SetQuantity, MAX_QUANTITY};
use catalog_api::Money;
use serde::Deserialize;
use uuid::Uuid;

use super::shipping::ShippingEstimate;
use crate::currency::Prices;
use crate::form::{sentence, CheckedForm};
use crate::layout::Layout;
use crate::session::{GuestLine, SessionHandle, Shopper, MAX_GUEST_LINES};
use crate::{failure, Storefront};

#[derive(Debug, Deserialize)]
pub struct AddToCart {
    #[serde(default)]
    product_id: String,
    #[serde(default)]
    quantity: String,
}

/// A cart line's form: its quantity, and which button was pressed (`update`, `remove`).
#[derive(Debug, Deserialize)]
pub struct LineForm {
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    action: String,
}

struct LineView {
    product_id: Uuid,
    /// For the shipping estimate.
    sku: String,
    name: String,
    unit_price: String,
    /// What the quantity field shows: the line's, or what was typed when it was refused.
    quantity: String,
    total: String,
    problem: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "cart.html")]
struct CartPage {
    layout: Layout,
    lines: Vec<LineView>,
    total: String,
    item_count: u32,
    signed_in: bool,
    /// Said when the prices are the ones stored, not confirmed by the catalog just now.
    prices_note: Option<String>,
    shipping: ShippingEstimate,
}

/// `/cart`'s query string: the country of the shipping estimate.
#[derive(Debug, Default, Deserialize)]
struct CartQuery {
    #[serde(default)]
    country: Option<String>,
}

/// A quantity as typed, checked with the cart's own rule.
fn quantity(typed: &str) -> Result<u32, String> {
    let number = typed
        .trim()
        .parse::<i64>()
        .map_err(|_| format!("Enter a whole number from 1 to {MAX_QUANTITY}."))?;
    SetQuantity { quantity: number }
        .validate()
        .map_err(|_| format!("Enter a whole number from 1 to {MAX_QUANTITY}."))
}

/// A refused line: its id, what was typed, and why.
type LineProblem = (Uuid, String, String);

pub async fn show(
    State(shop): State<Storefront>,
    session: SessionHandle,
    RawQuery(raw): RawQuery,
) -> Response {
    // A query string that is not ours is ignored, as a page ignores what it does not use.
    let query: CartQuery =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or_default()).unwrap_or_default();
    page(&shop, &session, None, query.country.as_deref()).await
}

async fn page(
    shop: &Storefront,
    session: &SessionHandle,
    refused: Option<LineProblem>,
    country: Option<&str>,
) -> Response {
    let signed_in = session.shopper();
    let back = country.map_or_else(|| "/cart".to_owned(), |c| format!("/cart?country={c}"));
    let prices = Prices::of(shop, session, &back).await;
    let view = match &signed_in {
        Some(shopper) => match shop.cart.cart(&shopper.token).await {
            Ok(cart) => of_cart(&cart, &prices),
            Err(error) => return cart_failed(session, &error),
        },
        None => match of_guest(shop, &session.guest_cart(), &prices).await {
            Ok(view) => view,
            Err(error) => return failure::dependency(session, "Your cart", &error),
        },
    };
    let (mut lines, total, item_count, prices_note) = view;
    let mut status = StatusCode::OK;
    if let Some((id, typed, problem)) = refused {
        if let Some(line) = lines.iter_mut().find(|l| l.product_id == id) {
            line.quantity = typed;
            line.problem = Some(problem);
            status = StatusCode::BAD_REQUEST;
        }
    }
    let skus: Vec<(String, u32)> = lines
        .iter()
        .filter_map(|l| Some((l.sku.clone(), l.quantity.parse().ok()?)))
        .collect();
    let shipping = super::shipping::estimate(shop, &skus, country, &prices).await;
    let page = CartPage {
        layout: Layout::new(session, "Your cart").priced(&prices),
        shipping,
        lines,
        total,
        item_count,
        signed_in: signed_in.is_some(),
        prices_note,
    };
    (status, page).into_response()
}

type CartView = (Vec<LineView>, String, u32, Option<String>);

fn line(
    (product_id, sku): (Uuid, &str),
    name: &str,
    (unit, total): (&Money, &Money),
    quantity: u32,
    prices: &Prices,
) -> LineView {
    LineView {
        product_id,
        sku: sku.to_owned(),
        name: name.to_owned(),
        unit_price: prices.show(unit),
        quantity: quantity.to_string(),
        total: prices.show(total),
        problem: None,
    }
}

fn of_cart(cart: &Cart, prices: &Prices) -> CartView {
    let lines = cart
        .lines
        .iter()
        .map(|l| {
            line(
                (l.product_id, &l.sku),
                &l.name,
                (&l.unit_price, &l.line_total),
                l.quantity,
                prices,
            )
        })
        .collect();
    let note = (!cart.prices_current).then(|| {
        "Prices could not be confirmed with the catalog just now: they are checked again at \
         checkout."
            .to_owned()
    });
    (lines, prices.show(&cart.total), cart.item_count, note)
}

/// A guest's lines, priced by the catalog now (lines it no longer has are left out).
async fn of_guest(
    shop: &Storefront,
    guest: &[GuestLine],
    prices: &Prices,
) -> Result<CartView, ClientError> {
    if guest.is_empty() {
        let zero = Money {
            amount_minor: 0,
            currency: cart_api::EMPTY_CART_CURRENCY.to_owned(),
        };
        return Ok((Vec::new(), prices.show(&zero), 0, None));
    }
    let ids: Vec<Uuid> = guest.iter().map(|l| l.product_id).collect();
    let found = shop.catalog.products_by_ids(&ids).await?;
    let mut total = 0i64;
    let mut count = 0u32;
    let mut currency = cart_api::EMPTY_CART_CURRENCY.to_owned();
    let mut lines = Vec::new();
    for product in &found.items {
        let Some(guest_line) = guest.iter().find(|l| l.product_id == product.id) else {
            continue;
        };
        let line_total = Money {
            amount_minor: product.price.amount_minor * i64::from(guest_line.quantity),
            currency: product.price.currency.clone(),
        };
        total += line_total.amount_minor;
        count += guest_line.quantity;
        currency.clone_from(&product.price.currency);
        lines.push(line(
            (product.id, &product.sku),
            &product.name,
            (&product.price, &line_total),
            guest_line.quantity,
            prices,
        ));
    }
    let total = Money {
        amount_minor: total,
        currency,
    };
    Ok((lines, prices.show(&total), count, None))
}

/// A call to the cart for a signed-in shopper failed: a token the cart no longer accepts signs
/// them out (log in again); anything else is the cart being unavailable.
pub fn cart_failed(session: &SessionHandle, error: &ClientError) -> Response {
    super::call_failed(session, error, "/cart", "Your cart")
}

pub async fn add(
    State(shop): State<Storefront>,
    session: SessionHandle,
    CheckedForm(form): CheckedForm<AddToCart>,
) -> Response {
    let Some(id) = super::parse_id(&form.product_id) else {
        return failure::not_found(&session, "product");
    };
    let refuse = |status: StatusCode, problem: String| {
        let (shop, session) = (shop.clone(), session.clone());
        let (typed, id) = (form.quantity.clone(), id.to_string());
        async move { super::product::page(&shop, &session, &id, &typed, Some((status, problem))).await }
    };
    let wanted = match quantity(&form.quantity) {
        Ok(wanted) => wanted,
        Err(problem) => return refuse(StatusCode::BAD_REQUEST, problem).await,
    };
    let added = match session.shopper() {
        Some(shopper) => add_to_cart(&shop, &shopper, id, wanted).await,
        None => add_for_guest(&session, id, wanted),
    };
    match added {
        Ok(()) => {
            session.notify("Added to your cart.");
            Redirect::to("/cart").into_response()
        }
        Err(Refusal::SignedOut) => super::log_in_again(&session, &format!("/products/{id}")),
        Err(Refusal::Said(status, problem)) => refuse(status, problem).await,
    }
}

enum Refusal {
    SignedOut,
    Said(StatusCode, String),
}

async fn add_to_cart(
    shop: &Storefront,
    shopper: &Shopper,
    id: Uuid,
    wanted: u32,
) -> Result<(), Refusal> {
    let current = shop.cart.cart(&shopper.token).await.map_err(refusal)?;
    let held = current
        .lines
        .iter()
        .find(|l| l.product_id == id)
        .map_or(0, |l| l.quantity);
    if held + wanted > MAX_QUANTITY {
        return Err(Refusal::Said(
            StatusCode::BAD_REQUEST,
            format!("You can have at most {MAX_QUANTITY} of one product; your cart has {held}."),
        ));
    }
    shop.cart
        .set_quantity(&shopper.token, id, held + wanted)
        .await
        .map(drop)
        .map_err(refusal)
}

fn refusal(error: ClientError) -> Refusal {
    let ClientError::Status { problem, .. } = &error else {
        tracing::warn!(%error, "cannot add to the cart");
        return Refusal::Said(
            StatusCode::SERVICE_UNAVAILABLE,
            "Your cart is unavailable right now, so nothing was added. Please try again in a \
             moment."
                .to_owned(),
        );
    };
    if super::token_refused(&error) {
        return Refusal::SignedOut;
    }
    match problem.code() {
        problems::CART_FULL => Refusal::Said(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Your cart is full: remove a product before adding another.".to_owned(),
        ),
        problems::UNKNOWN_PRODUCT => Refusal::Said(
            StatusCode::UNPROCESSABLE_ENTITY,
            "This product is no longer sold.".to_owned(),
        ),
        _ => Refusal::Said(StatusCode::UNPROCESSABLE_ENTITY, sentence(&problem.detail)),
    }
}

fn add_for_guest(session: &SessionHandle, id: Uuid, wanted: u32) -> Result<(), Refusal> {
    session.update(|s| {
        if let Some(line) = s.guest_cart.iter_mut().find(|l| l.product_id == id) {
            if line.quantity + wanted > MAX_QUANTITY {
                return Err(Refusal::Said(
                    StatusCode::BAD_REQUEST,
                    format!("You can have at most {MAX_QUANTITY} of one product; your cart has {}.", line.quantity),
                ));
            }
            line.quantity += wanted;
        } else if s.guest_cart.len() >= MAX_GUEST_LINES {
            return Err(Refusal::Said(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("A cart holds {MAX_GUEST_LINES} products until you log in: log in or sign up to add more."),
            ));
        } else {
            s.guest_cart.push(GuestLine {
                product_id: id,
                quantity: wanted,
            });
        }
        Ok(())
    })
}

/// `POST /cart/items/{id}`: the line's form, with its "Update" or "Remove" button.
pub async fn change(
    State(shop): State<Storefront>,
    session: SessionHandle,
    Path(id): Path<String>,
    CheckedForm(form): CheckedForm<LineForm>,
) -> Response {
    let Some(id) = super::parse_id(&id) else {
        return failure::not_found(&session, "cart line");
    };
    if form.action == "remove" {
        return change_line(&shop, &session, id, None).await;
    }
    match quantity(&form.quantity) {
        Ok(wanted) => change_line(&shop, &session, id, Some(wanted)).await,
        Err(problem) => page(&shop, &session, Some((id, form.quantity, problem)), None).await,
    }
}

/// Sets the quantity of a line (`None`: removes it), in the cart or in the guest's session,
/// and goes back to the cart.
async fn change_line(
    shop: &Storefront,
    session: &SessionHandle,
    id: Uuid,
    quantity: Option<u32>,
) -> Response {
    if let Some(shopper) = session.shopper() {
        let changed = match quantity {
            Some(wanted) => shop.cart.set_quantity(&shopper.token, id, wanted).await,
            None => shop.cart.remove(&shopper.token, id).await,
        };
        if let Err(error) = changed {
            return cart_failed(session, &error);
        }
    } else {
        session.update(|s| match quantity {
            Some(wanted) => s
                .guest_cart
                .iter_mut()
                .filter(|l| l.product_id == id)
                .for_each(|l| l.quantity = wanted),
            None => s.guest_cart.retain(|l| l.product_id != id),
        });
    }
    session.notify(if quantity.is_some() {
        "Your cart is updated."
    } else {
        "Removed from your cart."
    });
    Redirect::to("/cart").into_response()
}

/// Moves a guest's lines into the cart of the shopper who just signed in (their quantity
/// replaces the cart's). Lines the cart refuses stay in the session, and the shopper is told.
pub async fn adopt_guest_cart(shop: &Storefront, session: &SessionHandle, token: &str) {
    let mut kept = Vec::new();
    for line in session.guest_cart() {
        if let Err(error) = shop
            .cart
            .set_quantity(token, line.product_id, line.quantity)
            .await
        {
            tracing::warn!(%error, "a guest's cart line could not be moved into the cart");
            kept.push(line);
        }
    }
    let some_kept = !kept.is_empty();
    session.update(|s| s.guest_cart = kept);
    if some_kept {
        session.notify(
            "Some products you added before logging in could not be put in your cart just now; \
             add them again in a moment.",
        );
    }
}
