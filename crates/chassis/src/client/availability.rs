//! Optional dependencies: a call whose failure the caller must handle, not pass on.
//!
//! A product page without recommendations is still a product page (promise 6). A dependency the
//! caller can do without is called through [`ServiceClient::optional`], whose answers are an
//! [`Availability`]: the caller matches on it and decides what to show when the dependency is
//! unavailable, and the compiler reminds it (`#[must_use]`) when it does not. Only the caller's own
//! mistakes (a 4xx from the dependency, a request that cannot be built) stay errors.

use serde::de::DeserializeOwned;

use super::{Error, ServiceClient};

/// The answer of an optional dependency, or why there is none.
#[must_use = "an optional dependency may be unavailable: decide what to answer without it"]
#[derive(Debug)]
pub enum Availability<T> {
    Available(T),
    /// The dependency failed, timed out, could not be reached, was shed by its breaker or
    /// bulkhead, or answered something unreadable; the error says which, for the log.
    Unavailable(Error),
}

impl<T> Availability<T> {
    /// Sorts a call's result: the dependency's failures become [`Availability::Unavailable`];
    /// the caller's own mistakes (a 4xx answer, a request that could not be built) stay errors.
    pub fn of(result: Result<T, Error>) -> Result<Availability<T>, Error> {
        match result {
            Ok(value) => Ok(Availability::Available(value)),
            Err(error) if error.is_callers_fault() => Err(error),
            Err(error) => Ok(Availability::Unavailable(error)),
        }
    }

    /// The answer, if there was one.
    pub fn into_option(self) -> Option<T> {
        match self {
            Availability::Available(value) => Some(value),
            Availability::Unavailable(_) => None,
        }
    }

    pub fn is_available(&self) -> bool {
        matches!(self, Availability::Available(_))
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Availability<U> {
        match self {
            Availability::Available(value) => Availability::Available(f(value)),
            Availability::Unavailable(error) => Availability::Unavailable(error),
        }
    }
}

/// A [`ServiceClient`] for a dependency the caller can do without; see the module docs.
#[derive(Debug, Clone)]
pub struct OptionalClient {
    inner: ServiceClient,
}

impl OptionalClient {
    pub(crate) fn new(inner: ServiceClient) -> OptionalClient {
        OptionalClient { inner }
    }

    /// The client for when the answer is needed after all.
    pub fn required(&self) -> &ServiceClient {
        &self.inner
    }

    /// [`ServiceClient::get_json`], sorted by [`Availability::of`]. Other calls sort the same
    /// way: `Availability::of(optional.required().send_json(…).await)`.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path_and_query: &str,
    ) -> Result<Availability<T>, Error> {
        Availability::of(self.inner.get_json(path_and_query).await)
    }
}
