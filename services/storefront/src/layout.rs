//! What every page's frame shows: the title, the search box, the account links (with the
//! log-out form's CSRF token), the currency picker or the note that prices cannot be converted
//! (on pages with prices), a notice left by the previous page, and the asset URLs.

use crate::currency::{Picker, Prices};
use crate::session::SessionHandle;

/// The frame of a page (`templates/base.html`).
#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    pub csrf: String,
    /// The signed-in shopper's name.
    pub shopper: Option<String>,
    pub notice: Option<String>,
    /// What the search box shows.
    pub search: String,
    /// The header's currency form (pages with prices, while the currency service answers).
    pub currency: Option<Picker>,
    /// Said when the page's prices could not be converted.
    pub currency_note: Option<String>,
    /// The page changes by itself (a pending order): without JavaScript it reloads.
    pub refresh: bool,
    pub style_url: &'static str,
    pub htmx_url: &'static str,
    pub icon_url: &'static str,
}

impl Layout {
    /// The frame for `session`, taking its notice (shown once).
    pub fn new(session: &SessionHandle, title: impl Into<String>) -> Layout {
        Layout {
            csrf: session.csrf(),
            shopper: session.shopper().map(|s| s.name),
            notice: session.take_notice(),
            ..Layout::without_session(title)
        }
    }

    /// The frame of a page made without the shopper's session (the chassis' refusals, answered
    /// before the session is read): as a visitor who is not signed in sees it.
    pub fn without_session(title: impl Into<String>) -> Layout {
        Layout {
            title: title.into(),
            csrf: String::new(),
            shopper: None,
            notice: None,
            search: String::new(),
            currency: None,
            currency_note: None,
            refresh: false,
            style_url: crate::assets::style_url(),
            htmx_url: crate::assets::htmx_url(),
            icon_url: crate::assets::icon_url(),
        }
    }

    pub fn searching(mut self, text: &str) -> Layout {
        text.clone_into(&mut self.search);
        self
    }

    /// A page with prices: the currency picker, or the note when they cannot be converted.
    pub fn priced(mut self, prices: &Prices) -> Layout {
        self.currency = prices.picker();
        self.currency_note = prices.note();
        self
    }

    pub fn refreshing(mut self) -> Layout {
        self.refresh = true;
        self
    }
}
