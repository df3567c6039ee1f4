//! JSON bodies of the public routes, decoded as the gateway (and the service behind it) decodes
//! them and then checked by their rules: sign-up, log-in, checkout, a cart line's quantity, a
//! shipping quote. The first byte picks the route; the rest is the body.
//!
//! Properties: a body that does not decode is a 4xx problem (400 not JSON, 422 not the shape),
//! never a panic or a 5xx; a body that decodes writes back and decodes to the same value (the
//! gateway forwards it so); the route's rules refuse it with a 400 naming a field, or accept
//! it within the documented bounds.
#![no_main]

use brigade_chassis::extract::json_body;
use brigade_chassis::Problem;
use brigade_fuzz::{is_a_callers_problem, json_round_trips, pick_route};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

fn decoded<T>(body: &[u8]) -> Option<T>
where
    T: Serialize + DeserializeOwned + PartialEq,
{
    match json_body::<T>(body) {
        Ok(value) => {
            assert!(
                json_round_trips(&value),
                "an accepted body does not read back"
            );
            Some(value)
        }
        Err(problem) => {
            assert!(is_a_callers_problem(&problem), "{problem:?}");
            assert!([400, 422].contains(&problem.status), "{problem:?}");
            None
        }
    }
}

/// The rules' verdict: accepted (`Ok`), or a 400 that names a field.
fn checked<T>(verdict: Result<T, impl Into<Problem>>) -> Option<T> {
    match verdict {
        Ok(value) => Some(value),
        Err(error) => {
            let problem: Problem = error.into();
            assert!(is_a_callers_problem(&problem), "{problem:?}");
            assert_eq!(problem.status, 400);
            None
        }
    }
}

fn sign_up(body: &[u8]) {
    let Some(asked) = decoded::<users_api::SignUp>(body) else {
        return;
    };
    if let Some(valid) = checked(asked.validate()) {
        assert!(valid.email.chars().count() <= users_api::MAX_EMAIL_CHARS);
        let password = valid.password.chars().count();
        assert!(
            (users_api::MIN_PASSWORD_CHARS..=users_api::MAX_PASSWORD_CHARS).contains(&password)
        );
        assert!(valid.name.chars().count() <= users_api::MAX_NAME_CHARS);
    }
}

fn log_in(body: &[u8]) {
    if let Some(asked) = decoded::<users_api::LogIn>(body) {
        checked(asked.validate());
    }
}

fn checkout(body: &[u8]) {
    let Some(asked) = decoded::<orders_api::CheckoutRequest>(body) else {
        return;
    };
    if checked(asked.validate()).is_some() {
        let digits = asked.card_number.len();
        assert!(asked.card_number.bytes().all(|b| b.is_ascii_digit()));
        assert!((orders_api::MIN_CARD_DIGITS..=orders_api::MAX_CARD_DIGITS).contains(&digits));
    }
}

fn set_quantity(body: &[u8]) {
    if let Some(asked) = decoded::<cart_api::SetQuantity>(body) {
        if let Some(quantity) = checked(asked.validate()) {
            assert!((cart_api::MIN_QUANTITY..=cart_api::MAX_QUANTITY).contains(&quantity));
        }
    }
}

fn quote(body: &[u8]) {
    if let Some(asked) = decoded::<shipping_api::QuoteRequest>(body) {
        if checked(asked.validate()).is_some() {
            assert!(!asked.items.is_empty());
            assert_eq!(asked.country.len(), 2);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    pick_route(data, &[sign_up, log_in, checkout, set_quantity, quote]);
});
