//! Query strings of the public routes (the gateway's, which the services behind it share): the
//! catalog's listing, paging (orders, messages), recommendations, currency conversion, and the
//! routes that take no parameters. The first byte picks the route; the rest is the query string.
//!
//! Properties: a query string that does not decode is a 400 `invalid-query` problem; one that
//! decodes is written back (as the gateway forwards it to a service) and decodes to the same
//! value; the route's rules either refuse it with a 400 naming a parameter or give values
//! within the documented bounds.
#![no_main]

use brigade_chassis::extract::{query_string, NoParameters};
use brigade_chassis::validation::{PageQuery, ValidationError, MAX_PAGE_SIZE};
use brigade_chassis::Problem;
use brigade_fuzz::{is_a_callers_problem, pick_route, uri_with_query};
use catalog_api::{ListProducts, Sort, MAX_QUERY_CHARS};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The query decoded as `T`, and written back and decoded again to the same value; `None` when
/// it is refused, or when no request could carry it.
fn decoded<T>(query: &[u8]) -> Option<T>
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    match query_string::<T>(&uri_with_query(query)?) {
        Ok(value) => {
            let written = serde_urlencoded::to_string(&value).expect("a query writes");
            let again = uri_with_query(written.as_bytes())
                .unwrap_or_else(|| panic!("{written:?} is not a URI's query"));
            assert_eq!(
                query_string::<T>(&again).ok().as_ref(),
                Some(&value),
                "{written}"
            );
            Some(value)
        }
        Err(problem) => {
            assert!(is_a_callers_problem(&problem), "{problem:?}");
            assert_eq!(problem.status, 400);
            None
        }
    }
}

/// A broken rule is answered as a 400 that names a parameter.
fn refused(error: ValidationError) {
    assert!(!error.parameter.is_empty());
    let problem = Problem::from(error);
    assert!(is_a_callers_problem(&problem), "{problem:?}");
}

fn list_products(query: &[u8]) {
    let Some(asked) = decoded::<ListProducts>(query) else {
        return;
    };
    match asked.validate() {
        Ok(query) => {
            assert!(query.page() >= 1);
            assert!((1..=MAX_PAGE_SIZE).contains(&query.page_size()));
            let _ = query.offset();
            if let Some(text) = query.text() {
                assert!(!text.is_empty() && text.chars().count() <= MAX_QUERY_CHARS);
            } else {
                assert_ne!(query.sort(), Sort::Relevance);
            }
        }
        Err(error) => refused(error),
    }
}

fn page(query: &[u8]) {
    if let Some(asked) = decoded::<PageQuery>(query) {
        match asked.validate() {
            Ok(page) => {
                assert!(page.page >= 1 && (1..=MAX_PAGE_SIZE).contains(&page.page_size));
                let _ = page.offset();
            }
            Err(error) => refused(error),
        }
    }
}

fn recommendations(query: &[u8]) {
    if let Some(asked) = decoded::<recommendations_api::RecommendationsQuery>(query) {
        match asked.validate() {
            Ok(limit) => assert!(
                (recommendations_api::MIN_LIMIT..=recommendations_api::MAX_LIMIT).contains(&limit)
            ),
            Err(error) => refused(error),
        }
    }
}

fn convert(query: &[u8]) {
    if let Some(asked) = decoded::<currency_api::ConvertQuery>(query) {
        match asked.validate() {
            Ok(conversion) => {
                assert!(conversion.amount_minor >= 0);
                assert_eq!(conversion.from.len(), 3);
                assert_eq!(conversion.to.len(), 3);
            }
            Err(error) => refused(error),
        }
    }
}

fn no_parameters(query: &[u8]) {
    let Some(uri) = uri_with_query(query) else {
        return;
    };
    if query_string::<NoParameters>(&uri).is_ok() {
        // Only an empty query (or bare separators) names no parameter.
        let query = uri.query().unwrap_or_default();
        assert!(query.bytes().all(|b| b == b'&'), "{query:?} was accepted");
    }
}

fuzz_target!(|data: &[u8]| {
    pick_route(
        data,
        &[list_products, page, recommendations, convert, no_parameters],
    );
});
