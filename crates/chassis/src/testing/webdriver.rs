//! The few W3C WebDriver commands the browser tests use, over the chassis' plain client: a
//! session, navigation, finding elements by CSS, id or link text, clicking, typing, the page source,
//! scripts and screenshots. Every failure panics with what the driver said: this is for tests.
//!
//! The protocol is a handful of JSON calls: a WebDriver crate would bring a second `http`, a
//! second `cookie` and an MPL-licensed dependency for a test.
use crate::plain::PlainClient;
use base64::Engine as _;
use http::Method;
use serde_json::{json, Value};

/// The key under which WebDriver names an element.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub enum Locator<'a> {
    Css(&'a str),
    Id(&'a str),
    /// A link whose text contains this.
    LinkText(&'a str),
}

pub struct Client {
    http: PlainClient,
    session: String,
}

pub struct Element<'a> {
    client: &'a Client,
    id: String,
}

impl Client {
    /// A new browser session with `capabilities` (merged into `alwaysMatch`).
    pub async fn connect(driver: &str, capabilities: Value) -> Client {
        let http = PlainClient::new(std::time::Duration::from_secs(60));
        let url = format!("{driver}/session");
        let answer: Value = http
            .send_json(
                Method::POST,
                &url,
                &json!({ "capabilities": { "alwaysMatch": capabilities } }),
            )
            .await
            .unwrap_or_else(|e| panic!("no WebDriver session: {e}"));
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("WebDriver answered no session id: {answer}"))
            .to_owned();
        Client {
            http,
            session: format!("{driver}/session/{session}"),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The command's value, or what WebDriver said instead (e.g. a stale element reference).
    async fn try_call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("{}{path}", self.session);
        let answer: Result<Value, _> = match body {
            Some(body) => self.http.send_json(method, &url, &body).await,
            None => self.http.get_json(&url).await,
        };
        answer
            .map(|answer| answer["value"].clone())
            .map_err(|e| format!("WebDriver {path}: {e}"))
    }

    pub async fn goto(&self, url: &str) {
        self.call(Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn source(&self) -> String {
        self.call(Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn find(&self, locator: Locator<'_>) -> Element<'_> {
        let (using, selector) = match locator {
            Locator::Css(css) => ("css selector", css.to_owned()),
            Locator::Id(id) => ("css selector", format!("#{id}")),
            Locator::LinkText(text) => ("partial link text", text.to_owned()),
        };
        let found = self
            .call(
                Method::POST,
                "/element",
                Some(json!({ "using": using, "value": selector })),
            )
            .await;
        Element {
            client: self,
            id: found[ELEMENT]
                .as_str()
                .unwrap_or_else(|| panic!("no element {selector}: {found}"))
                .to_owned(),
        }
    }

    /// Runs `script` (a function body: `return …;` gives its value) in the page.
    pub async fn execute(&self, script: &str) -> Value {
        self.call(
            Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// The viewport as PNG.
    pub async fn screenshot(&self) -> Vec<u8> {
        let encoded = self.call(Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("WebDriver sent a screenshot that is not base64: {e}"))
    }

    pub async fn close(self) {
        let _ = self.http.send(Method::DELETE, &self.session, None).await;
    }
}

impl Element<'_> {
    fn path(&self, action: &str) -> String {
        format!("/element/{}/{action}", self.id)
    }

    pub async fn click(&self) {
        self.client
            .call(Method::POST, &self.path("click"), Some(json!({})))
            .await;
    }

    /// Clicks, or says why not: a page that re-renders (the console's live views) may replace
    /// the element between finding it and clicking it ("stale element reference").
    pub async fn try_click(&self) -> Result<(), String> {
        self.client
            .try_call(Method::POST, &self.path("click"), Some(json!({})))
            .await
            .map(drop)
    }

    pub async fn clear(&self) {
        self.client
            .call(Method::POST, &self.path("clear"), Some(json!({})))
            .await;
    }

    pub async fn send_keys(&self, text: &str) {
        self.client
            .call(
                Method::POST,
                &self.path("value"),
                Some(json!({ "text": text })),
            )
            .await;
    }

    pub async fn text(&self) -> String {
        self.client
            .call(Method::GET, &self.path("text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}
