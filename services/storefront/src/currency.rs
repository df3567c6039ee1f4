//! Prices in the shopper's currency. The choice lives in the session (`POST /currency`, a small
//! form in every priced page's header that works without JavaScript). A page asks the currency
//! service for its whole table of rates once (kept for `--currency-rates-ttl`, shared by every
//! page of this instance) and converts each price locally with `currency_api::conversion`, the
//! very arithmetic the service and orders use: what a page shows is what a checkout charges.
//!
//! Optional: the currency service down, slow (capped by [`RATES_TIMEOUT`]) or failing leaves
//! every page whole, in the catalog's currency, with a note saying so and no picker.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use catalog_api::Money;
use currency_api::{CurrencyClient, CurrencyList};
use serde::Deserialize;
use tokio::time::Instant;

use crate::form::CheckedForm;
use crate::session::SessionHandle;
use crate::{format_money, Storefront};

/// The longest a page waits for the table of rates; past it prices are in the catalog's
/// currency.
pub const RATES_TIMEOUT: Duration = Duration::from_millis(500);

/// The currency service's table, kept briefly: one call serves every page for `ttl`.
#[derive(Debug, Clone)]
pub struct Rates {
    client: CurrencyClient,
    ttl: Duration,
    kept: Arc<Mutex<Kept>>,
}

/// The last table fetched, and when.
type Kept = Option<(Instant, Arc<CurrencyList>)>;

impl Rates {
    pub fn new(client: CurrencyClient, ttl: Duration) -> Rates {
        Rates {
            client,
            ttl,
            kept: Arc::default(),
        }
    }

    /// The table, from the last answer when it is younger than the ttl; `None` (logged) when
    /// the currency service cannot give it. A failure is not kept: the next page asks again,
    /// unless the client's breaker already says the service is down.
    pub async fn table(&self) -> Option<Arc<CurrencyList>> {
        if let Some(table) = self.fresh() {
            return Some(table);
        }
        if let Some(why) = self.client.unavailable_now() {
            tracing::debug!(%why, "prices in the catalog's currency");
            return None;
        }
        match self.client.currencies().await {
            Ok(list) => {
                let table = Arc::new(list);
                let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
                *kept = Some((Instant::now(), table.clone()));
                Some(table)
            }
            Err(error) => {
                tracing::warn!(%error, "prices in the catalog's currency: no rates");
                None
            }
        }
    }

    fn fresh(&self) -> Option<Arc<CurrencyList>> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.as_ref()
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, table)| table.clone())
    }
}

/// How a page shows money: in the shopper's currency when the table has it, else as it is.
#[derive(Debug, Clone, Default)]
pub struct Prices {
    /// The shopper's choice (from the session), if any.
    chosen: Option<String>,
    /// `None`: the currency service could not give its table.
    table: Option<Arc<CurrencyList>>,
    /// Where the picker's form comes back to: this page.
    back: String,
}

/// One currency of the picker.
#[derive(Debug, Clone)]
pub struct CurrencyChoice {
    pub code: String,
    pub name: String,
    pub selected: bool,
}

/// The header's currency form.
#[derive(Debug, Clone)]
pub struct Picker {
    pub choices: Vec<CurrencyChoice>,
    pub back: String,
}

impl Prices {
    /// How `session`'s page at `back` (its path and query, where the picker comes back to) shows
    /// prices: asks `shop`'s rates (kept briefly), never fails.
    pub async fn of(shop: &Storefront, session: &SessionHandle, back: &str) -> Prices {
        Prices {
            chosen: session.currency(),
            table: shop.rates.table().await,
            back: back.to_owned(),
        }
    }

    /// Money shown as recorded, never converted (an order's lines and amounts).
    pub fn as_recorded() -> Prices {
        Prices::default()
    }

    /// `money` for people, in the chosen currency when it can be converted.
    pub fn show(&self, money: &Money) -> String {
        format_money(&self.convert(money))
    }

    /// `money` in the chosen currency when it can be converted, else as it is.
    pub fn convert(&self, money: &Money) -> Money {
        match (&self.chosen, &self.table) {
            (Some(to), Some(table)) if *to != money.currency => {
                table.convert(money, to).unwrap_or_else(|| money.clone())
            }
            _ => money.clone(),
        }
    }

    /// The picker, when the currency service gave its table.
    pub fn picker(&self) -> Option<Picker> {
        let table = self.table.as_ref()?;
        let chosen = self.chosen.as_deref().unwrap_or(currency_api::BASE);
        Some(Picker {
            choices: table
                .items
                .iter()
                .map(|c| CurrencyChoice {
                    code: c.code.clone(),
                    name: c.name.clone(),
                    selected: c.code == chosen,
                })
                .collect(),
            back: self.back.clone(),
        })
    }

    /// What the page says about its prices when they cannot be converted.
    pub fn note(&self) -> Option<String> {
        self.table.is_none().then(|| {
            "Prices are shown in the catalog's currency: currency conversion is unavailable \
             right now."
                .to_owned()
        })
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct CurrencyForm {
    #[serde(default)]
    currency: String,
    #[serde(default)]
    back: String,
}

/// `POST /currency`: keeps the chosen currency in the session and goes back to the page.
pub async fn choose(
    State(shop): State<Storefront>,
    session: SessionHandle,
    CheckedForm(form): CheckedForm<CurrencyForm>,
) -> Response {
    let back = crate::pages::local_path(&form.back).to_owned();
    match shop.rates.table().await {
        Some(table) if table.currency(&form.currency).is_some() => {
            session.choose_currency(&form.currency);
        }
        Some(_) => session.notify("Choose a currency from the list."),
        None => session.notify(
            "Currencies cannot be changed right now: prices are shown in the catalog's currency.",
        ),
    }
    Redirect::to(&back).into_response()
}

#[cfg(test)]
mod tests {
    use currency_api::{Currency, Rate};

    use super::*;

    fn table() -> Arc<CurrencyList> {
        let currency = |code: &str, exponent, rate: &str| Currency {
            code: code.into(),
            name: code.into(),
            exponent,
            rate: rate.parse::<Rate>().unwrap_or(Rate::ONE),
        };
        Arc::new(CurrencyList {
            base: "EUR".into(),
            date: "2026-12-04".into(),
            items: vec![currency("EUR", 2, "1"), currency("JPY", 0, "180.87")],
        })
    }

    fn euros(amount_minor: i64) -> Money {
        Money {
            amount_minor,
            currency: "EUR".into(),
        }
    }

    #[test]
    fn prices_convert_to_the_chosen_currency_only_when_the_table_has_it() {
        let prices = |chosen: Option<&str>, table| Prices {
            chosen: chosen.map(str::to_owned),
            table,
            back: "/".into(),
        };
        // 12.34 EUR × 180.87 = 2231.9358 yen: 2,232.
        assert_eq!(
            prices(Some("JPY"), Some(table())).show(&euros(1234)),
            "¥2,232"
        );
        assert_eq!(prices(None, Some(table())).show(&euros(1234)), "€12.34");
        assert_eq!(
            prices(Some("USD"), Some(table())).show(&euros(1234)),
            "€12.34"
        );
        let down = prices(Some("JPY"), None);
        assert_eq!(down.show(&euros(1234)), "€12.34");
        assert!(down.note().is_some() && down.picker().is_none());
        let picker = prices(Some("JPY"), Some(table())).picker();
        let selected: Vec<String> = picker
            .map(|p| {
                p.choices
                    .into_iter()
                    .filter(|c| c.selected)
                    .map(|c| c.code)
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(selected, ["JPY"]);
    }
}
