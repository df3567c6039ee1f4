//! The typed client other services use to call the currency service, through the chassis client
//! (so every call gets discovery, balancing, deadlines and tracing).

use brigade_chassis::client::{Error as ClientError, ServiceClient};
use http::{HeaderMap, Method};

use crate::paths;
#[cfg(doc)]
use crate::rules::ConvertQuery;
use crate::rules::{Conversion, ReplaceRates};
use crate::types::{Converted, CurrencyList};

/// Calls the currency service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CurrencyClient {
    inner: ServiceClient,
}

impl CurrencyClient {
    /// `inner` is a chassis client bound to the currency service (`ctx.client("currency")`).
    pub fn new(inner: ServiceClient) -> CurrencyClient {
        CurrencyClient { inner }
    }

    /// Why a call made now would be refused without being sent (no instance known, circuit
    /// open), if it would; see `ServiceClient::unavailable_now`. Costs no call.
    pub fn unavailable_now(&self) -> Option<ClientError> {
        self.inner.unavailable_now()
    }

    /// The supported currencies and the date of the rates in force.
    pub async fn currencies(&self) -> Result<CurrencyList, ClientError> {
        self.inner.get_json(paths::CURRENCIES).await
    }

    /// `conversion`'s amount converted (a [`ConvertQuery`] checked with
    /// [`ConvertQuery::validate`], or made with [`Conversion::new`]). The service answers 422
    /// `unknown-currency` for a code it has no rate for.
    pub async fn convert(&self, conversion: &Conversion) -> Result<Converted, ClientError> {
        self.inner.get_json(&paths::convert(conversion)).await
    }

    /// Replaces the table of rates with `table`, at once; answers the new list.
    pub async fn replace_rates(&self, table: &ReplaceRates) -> Result<CurrencyList, ClientError> {
        self.inner
            .send_json(Method::PUT, paths::RATES, Some(table), &HeaderMap::new())
            .await
    }
}
