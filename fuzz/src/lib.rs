//! What the fuzz targets share: the properties every decoder of outside input must keep, checked
//! the same way for each type.

use brigade_chassis::Problem;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A refusal of input the caller sent is a 4xx problem with a type and a detail, never a 5xx:
/// the input is the caller's mistake, and the service said so.
pub fn is_a_callers_problem(problem: &Problem) -> bool {
    (400..500).contains(&problem.status) && !problem.detail.is_empty() && !problem.code().is_empty()
}

/// Whatever a decoder accepted, written back as JSON, decodes to the same value: nothing is lost
/// or invented on the way through (a value another service forwards means what it meant).
pub fn json_round_trips<T>(value: &T) -> bool
where
    T: Serialize + DeserializeOwned + PartialEq,
{
    let Ok(bytes) = serde_json::to_vec(value) else {
        return false;
    };
    brigade_chassis::extract::json_body::<T>(&bytes).is_ok_and(|again| &again == value)
}

/// `/?{query}` as a request URI, or `None` where no HTTP request could carry that query (the
/// server never gets that far with it).
pub fn uri_with_query(query: &[u8]) -> Option<http::Uri> {
    let mut path = b"/?".to_vec();
    path.extend_from_slice(query);
    http::Uri::try_from(path).ok()
}

/// Runs the route that `data`'s first byte picks, with the rest of `data`: how a target that
/// covers several inputs of one kind (the public routes' bodies…) lets the fuzzer choose.
pub fn pick_route(data: &[u8], routes: &[fn(&[u8])]) {
    if let (Some((&which, rest)), false) = (data.split_first(), routes.is_empty()) {
        routes[usize::from(which) % routes.len()](rest);
    }
}
