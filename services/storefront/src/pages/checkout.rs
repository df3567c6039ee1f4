//! `/checkout`: the delivery address and the card, then the order's outcome, said honestly:
//! confirmed (to the order's page); pending (to the order's page, which follows it until it
//! settles); declined with the reason; out of stock naming the line; payments unavailable with
//! nothing charged. A refused form keeps what was typed, with the problem next to its field.
//!
//! The address goes with the order: orders asks shipping for its quote and adds it to the
//! total. Shipping unavailable, or not shipping to the country, is said next to the form with
//! nothing ordered. Before placing, the page shows the lines, shipping's quote for the form's
//! country and the total, in the shopper's currency; placing sends that currency, and orders
//! converts and charges in it. The currency service down with another currency chosen: the page
//! says nothing was ordered and offers to pay in the catalog's currency, keeping the form.
//!
//! Each form carries an `attempt` key, the checkout's `Idempotency-Key`: sending the same form
//! twice (a double click, a retry after a timeout) places one order. A checkout that ended (a
//! cancelled order) gets a new key; one whose outcome is unknown keeps its key, so trying again
//! is safe.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use brigade_chassis::client::Error as ClientError;
use cart_api::Cart;
use catalog_api::Money;
use orders_api::{
    problems, CancelReason, CheckoutAnswer, CheckoutRequest, Order, OrderStatus, ShippingAddress,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::currency::Prices;
use crate::form::{CheckedForm, FieldErrors};
use crate::layout::Layout;
use crate::session::{SessionHandle, Shopper};
use crate::Storefront;

/// The countries the shop delivers to (ISO 3166-1 alpha-2, name).
pub const COUNTRIES: [(&str, &str); 14] = [
    ("AT", "Austria"),
    ("BE", "Belgium"),
    ("DK", "Denmark"),
    ("FI", "Finland"),
    ("FR", "France"),
    ("DE", "Germany"),
    ("IE", "Ireland"),
    ("IT", "Italy"),
    ("NL", "Netherlands"),
    ("PT", "Portugal"),
    ("ES", "Spain"),
    ("SE", "Sweden"),
    ("GB", "United Kingdom"),
    ("US", "United States"),
];

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CheckoutForm {
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    card_number: String,
    #[serde(default)]
    attempt: String,
    /// Set by the "pay in the catalog's currency" button: switch to it and show the form again.
    #[serde(default)]
    pay_in: String,
}

/// A country of the list, and whether the form has it chosen.
pub struct CountryChoice {
    pub code: &'static str,
    pub name: &'static str,
    pub selected: bool,
}

/// The list of [`COUNTRIES`] with `chosen` selected.
pub fn countries(chosen: &str) -> Vec<CountryChoice> {
    COUNTRIES
        .iter()
        .map(|&(code, name)| CountryChoice {
            code,
            name,
            selected: chosen == code,
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "checkout.html")]
struct CheckoutPage {
    layout: Layout,
    form: CheckoutForm,
    errors: FieldErrors,
    countries: Vec<CountryChoice>,
    /// `None` when the cart could not be read for the summary.
    summary: Option<Summary>,
    /// After a checkout refused for its currency: the catalog's currency, offered instead.
    pay_in: Option<String>,
}

/// What the order will cost, before it is placed.
struct Summary {
    lines: Vec<super::LineSummary>,
    /// Shipping's cost to the form's country, or why it is not known yet.
    shipping: String,
    /// The lines and shipping, or only the lines when shipping could not be quoted.
    total: String,
    total_label: &'static str,
}

pub async fn form(State(shop): State<Storefront>, session: SessionHandle) -> Response {
    let Some(shopper) = session.shopper() else {
        return super::to_log_in(&session, "/checkout", "Log in to check out.").into_response();
    };
    match shop.cart.cart(&shopper.token).await {
        Ok(cart) if cart.lines.is_empty() => {
            session.notify("Your cart is empty: add something before checking out.");
            Redirect::to("/cart").into_response()
        }
        Ok(_) => {
            let form = CheckoutForm {
                country: "DE".to_owned(),
                ..CheckoutForm::default()
            };
            let view = View {
                errors: FieldErrors::default(),
                status: StatusCode::OK,
                pay_in: None,
            };
            page(&shop, &session, &shopper, form, view).await
        }
        Err(error) => super::cart::cart_failed(&session, &error),
    }
}

/// How the form is shown: its problems, the answer's status, and the currency offered instead
/// of the chosen one.
struct View {
    errors: FieldErrors,
    status: StatusCode,
    pay_in: Option<String>,
}

async fn page(
    shop: &Storefront,
    session: &SessionHandle,
    shopper: &Shopper,
    mut form: CheckoutForm,
    view: View,
) -> Response {
    // Checkout automation (card testing, hoarding): limited per shopper.
    if let Err(limited) = shop.limits.checkout(shopper.user_id) {
        return crate::failure::rate_limited(session, &limited);
    }
    if orders_api::check_idempotency_key(&form.attempt).is_err() {
        form.attempt = Uuid::new_v4().to_string();
    }
    let prices = Prices::of(shop, session, "/checkout").await;
    let summary = match shop.cart.cart(&shopper.token).await {
        Ok(cart) => Some(summary(shop, &cart, &form.country, &prices).await),
        Err(_) => None,
    };
    let page = CheckoutPage {
        layout: Layout::new(session, "Checkout").priced(&prices),
        errors: view.errors,
        countries: countries(&form.country),
        form,
        summary,
        pay_in: view.pay_in,
    };
    (view.status, page).into_response()
}

/// The cart's lines, shipping's quote to `country` and the total, as `prices` shows money: the
/// total is converted whole, as orders converts it.
async fn summary(shop: &Storefront, cart: &Cart, country: &str, prices: &Prices) -> Summary {
    let lines = cart
        .lines
        .iter()
        .map(|l| super::LineSummary::of(&l.name, l.quantity, &l.line_total, prices))
        .collect();
    let skus: Vec<(String, u32)> = cart
        .lines
        .iter()
        .map(|l| (l.sku.clone(), l.quantity))
        .collect();
    let name = COUNTRIES
        .iter()
        .find(|(code, _)| *code == country)
        .map_or(country, |(_, name)| name);
    let quoted = super::shipping::quote(shop, &skus, country).await;
    let with_shipping = quoted.as_ref().ok().and_then(|quote| {
        let amount_minor = cart
            .total
            .amount_minor
            .checked_add(quote.cost.amount_minor)?;
        (quote.cost.currency == cart.total.currency).then(|| Money {
            amount_minor,
            currency: cart.total.currency.clone(),
        })
    });
    match (quoted, with_shipping) {
        (Ok(quote), Some(total)) => Summary {
            lines,
            shipping: format!("{} to {name}", prices.show(&quote.cost)),
            total: prices.show(&total),
            total_label: "Total to pay",
        },
        (quoted, _) => Summary {
            lines,
            shipping: quoted.err().map_or_else(
                || "Worked out when you place the order.".to_owned(),
                |error| super::shipping::unquoted(name, &error),
            ),
            total: prices.show(&cart.total),
            total_label: "Total before shipping",
        },
    }
}

/// Every field's problem; the card number comes back without spaces when it is good.
fn check(form: &CheckoutForm) -> FieldErrors {
    let mut errors = FieldErrors::default();
    let mut text = |field: &str, value: &str, label: &str, max: usize| {
        let length = value.trim().chars().count();
        if length == 0 {
            errors.add(field, format!("Enter your {label}."));
        } else if length > max || value.chars().any(char::is_control) {
            errors.add(
                field,
                format!("Your {label} must be at most {max} characters."),
            );
        }
    };
    text("full_name", &form.full_name, "full name", 100);
    text("address", &form.address, "street and number", 200);
    text("city", &form.city, "town or city", 100);
    let postal = form.postal_code.trim();
    let postal_ok = (2..=12).contains(&postal.len())
        && postal
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b' ' || b == b'-');
    if !postal_ok {
        errors.add(
            "postal_code",
            "Enter a postal code of 2 to 12 letters, digits, spaces or hyphens.",
        );
    }
    if !COUNTRIES.iter().any(|(code, _)| *code == form.country) {
        errors.add("country", "Choose a country from the list.");
    }
    let card: String = form
        .card_number
        .chars()
        .filter(|c| *c != ' ' && *c != '-')
        .collect();
    let request = CheckoutRequest {
        card_number: card.clone(),
        shipping_address: None,
        currency: None,
    };
    if request.validate().is_err() {
        errors.add(
            "card_number",
            "Enter the card number: 12 to 19 digits (spaces are fine).",
        );
    } else if !payments_api::luhn_valid(&card) {
        errors.add(
            "card_number",
            "This card number is not valid: check the digits.",
        );
    }
    errors
}

pub async fn place(
    State(shop): State<Storefront>,
    session: SessionHandle,
    CheckedForm(mut form): CheckedForm<CheckoutForm>,
) -> Response {
    let Some(shopper) = session.shopper() else {
        return super::to_log_in(&session, "/checkout", "Log in to check out.").into_response();
    };
    // "Pay in the catalog's currency": switch, and show the same form again to be placed.
    if !form.pay_in.is_empty() {
        if currency_api::parse_code("pay_in", &form.pay_in).is_ok() {
            session.choose_currency(&form.pay_in);
        }
        let view = View {
            errors: FieldErrors::default(),
            status: StatusCode::OK,
            pay_in: None,
        };
        return page(&shop, &session, &shopper, form, view).await;
    }
    let errors = check(&form);
    if !errors.is_empty() {
        let view = View {
            errors,
            status: StatusCode::BAD_REQUEST,
            pay_in: None,
        };
        return page(&shop, &session, &shopper, form, view).await;
    }
    if orders_api::check_idempotency_key(&form.attempt).is_err() {
        form.attempt = Uuid::new_v4().to_string();
    }
    let request = CheckoutRequest {
        card_number: form
            .card_number
            .chars()
            .filter(char::is_ascii_digit)
            .collect(),
        shipping_address: Some(ShippingAddress {
            name: form.full_name.trim().to_owned(),
            street: form.address.trim().to_owned(),
            city: form.city.trim().to_owned(),
            postal_code: form.postal_code.trim().to_owned(),
            country: form.country.clone(),
        }),
        currency: session.currency(),
    };
    let placed = shop
        .orders
        .checkout(&shopper.token, &form.attempt, &request)
        .await;
    let outcome = match placed {
        Ok(answer) => of_answer(&answer),
        Err(error) => of_error(&error),
    };
    match outcome {
        Outcome::Go { to, notice } => {
            session.notify(notice);
            Redirect::to(&to).into_response()
        }
        Outcome::SignIn => super::log_in_again(&session, "/checkout"),
        Outcome::Refused {
            field,
            problem,
            status,
            new_attempt,
            currency,
        } => {
            if new_attempt {
                form.attempt.clear();
            }
            let mut errors = FieldErrors::default();
            errors.add(field, problem);
            // The way forward: the catalog's currency, which needs no conversion.
            let pay_in = if currency {
                shop.cart
                    .cart(&shopper.token)
                    .await
                    .ok()
                    .map(|cart| cart.total.currency)
            } else {
                None
            };
            let view = View {
                errors,
                status,
                pay_in,
            };
            page(&shop, &session, &shopper, form, view).await
        }
    }
}

/// What the checkout page does with an outcome.
enum Outcome {
    /// To another page, with a notice.
    Go { to: String, notice: String },
    /// The token was refused: log in again.
    SignIn,
    /// The form again, with `problem` next to `field` (`form`: at the top).
    Refused {
        field: &'static str,
        problem: String,
        status: StatusCode,
        /// The checkout ended: the next one needs a new key.
        new_attempt: bool,
        /// Refused for the currency chosen: offer the catalog's.
        currency: bool,
    },
}

fn refused(
    field: &'static str,
    problem: impl Into<String>,
    status: StatusCode,
    new_attempt: bool,
) -> Outcome {
    Outcome::Refused {
        field,
        problem: problem.into(),
        status,
        new_attempt,
        currency: false,
    }
}

/// Refused for the currency asked for (`sentence`): nothing was ordered; the form offers the
/// catalog's currency instead, under a new key (a checkout in another currency is another
/// request; orders recorded nothing for this one).
fn currency_refused(sentence: String, status: StatusCode) -> Outcome {
    Outcome::Refused {
        field: "form",
        problem: sentence,
        status,
        new_attempt: true,
        currency: true,
    }
}

fn of_answer(answer: &CheckoutAnswer) -> Outcome {
    let order = &answer.order;
    let to = format!("/orders/{}", order.id);
    match order.status {
        OrderStatus::Confirmed => Outcome::Go {
            to,
            notice: "Thank you! Your order is confirmed.".to_owned(),
        },
        OrderStatus::Pending => Outcome::Go {
            to,
            notice: "Your order is placed; we are waiting for the payment to settle.".to_owned(),
        },
        OrderStatus::Cancelled => cancelled(order),
    }
}

fn cancelled(order: &Order) -> Outcome {
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    match order.cancel_reason {
        Some(CancelReason::PaymentDeclined) => refused(
            "card_number",
            format!(
                "Your card was declined: {}. Nothing was charged; try another card.",
                super::orders::decline_words(order.decline_code.as_deref())
            ),
            StatusCode::PAYMENT_REQUIRED,
            true,
        ),
        Some(CancelReason::OutOfStock) => refused(
            "form",
            format!(
                "{} no longer in stock in the quantity you asked for, so nothing was charged. \
                 Change your cart, then check out again.",
                super::orders::short_lines(order)
            ),
            StatusCode::CONFLICT,
            true,
        ),
        Some(CancelReason::PaymentUnavailable) => payments_unavailable(true),
        _ => refused(
            "form",
            "The payment could not be completed, and nothing stays charged. Please try again.",
            unprocessable,
            true,
        ),
    }
}

fn payments_unavailable(new_attempt: bool) -> Outcome {
    refused(
        "form",
        "Payments are unavailable right now: nothing was charged and your cart is kept. Please \
         try again in a moment.",
        StatusCode::SERVICE_UNAVAILABLE,
        new_attempt,
    )
}

fn of_error(error: &ClientError) -> Outcome {
    if let ClientError::Status { problem, .. } = error {
        let order_page = problem
            .extensions
            .get("order_id")
            .and_then(|id| id.as_str())
            .map(|id| format!("/orders/{id}"));
        match problem.code() {
            problems::PAYMENTS_UNAVAILABLE => return payments_unavailable(true),
            problems::SHIPPING_UNAVAILABLE => {
                return refused(
                    "form",
                    "Shipping costs cannot be worked out right now, so nothing was ordered or \
                     charged and your cart is kept. Please try again in a moment.",
                    StatusCode::SERVICE_UNAVAILABLE,
                    false,
                )
            }
            problems::CURRENCY_UNAVAILABLE => {
                return currency_refused(
                    "Prices cannot be converted into the currency you chose right now, so \
                     nothing was ordered or charged and your cart is kept. Pay in the catalog's \
                     currency instead, or try again in a moment."
                        .to_owned(),
                    StatusCode::SERVICE_UNAVAILABLE,
                )
            }
            problems::UNKNOWN_CURRENCY => {
                return currency_refused(
                    "Orders cannot be paid in the currency you chose, so nothing was ordered or \
                     charged. Pay in the catalog's currency instead."
                        .to_owned(),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
            }
            problems::UNKNOWN_COUNTRY => {
                return refused(
                    "country",
                    "We do not deliver to this country: choose another one.",
                    StatusCode::UNPROCESSABLE_ENTITY,
                    false,
                )
            }
            problems::EMPTY_CART => {
                return Outcome::Go {
                    to: "/cart".to_owned(),
                    notice: "Your cart is empty: add something before checking out.".to_owned(),
                }
            }
            problems::PRODUCT_UNAVAILABLE => {
                return refused(
                    "form",
                    "A product in your cart is no longer sold: remove it from your cart, then \
                     check out again.",
                    StatusCode::UNPROCESSABLE_ENTITY,
                    true,
                )
            }
            problems::REQUEST_IN_PROGRESS => {
                return Outcome::Go {
                    to: order_page.unwrap_or_else(|| "/orders".to_owned()),
                    notice: "Your order is being placed.".to_owned(),
                }
            }
            _ if problem.status == 401 => return Outcome::SignIn,
            _ => {}
        }
    }
    tracing::warn!(%error, "checkout failed");
    if error.certainly_not_delivered() {
        refused(
            "form",
            "Orders cannot be placed right now, and nothing was charged. Please try again in a \
             moment.",
            StatusCode::SERVICE_UNAVAILABLE,
            false,
        )
    } else {
        refused(
            "form",
            "We could not learn whether your order went through. Look at your orders before \
             trying again; sending this form again will not order twice.",
            StatusCode::SERVICE_UNAVAILABLE,
            false,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_checked_and_the_card_may_have_spaces() {
        let mut form = CheckoutForm {
            card_number: "4242 4242 4242 4242".into(),
            country: "XX".into(),
            ..CheckoutForm::default()
        };
        let errors = check(&form);
        assert!(!errors.has("card_number"));
        form.card_number = "4242 4242 4242 4241".into();
        assert!(check(&form).has("card_number"), "a wrong check digit");
        for field in ["full_name", "address", "city", "postal_code", "country"] {
            assert!(errors.has(field), "{field}");
        }
        assert!(!errors.has("card_number"));
    }
}
