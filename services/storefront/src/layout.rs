//! What every page's frame shows: the title, the search box, the account links (with the
//! log-out form's CSRF token), a notice left by the previous page, and the asset URLs.

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
            title: title.into(),
            csrf: session.csrf(),
            shopper: session.shopper().map(|s| s.name),
            notice: session.take_notice(),
            search: String::new(),
            refresh: false,
            style_url: crate::assets::style_url(),
            htmx_url: crate::assets::htmx_url(),
            icon_url: crate::assets::icon_url(),
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

    pub fn refreshing(mut self) -> Layout {
        self.refresh = true;
        self
    }
}
