//! Headless Chromium for browser tests: chromedriver started and stopped, a browser session with
//! or without JavaScript, screenshots, and waits that poll the page.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`,
//! `/usr/bin/chromedriver`; `CHROMIUM` and `CHROMEDRIVER` name others). Without them
//! [`Driver::start`] says the test is skipped, except under `CI=true`
//! ([`super::required_backends`]), where it fails.
//!
//! Every wait polls the page until it says what is awaited, up to [`PATIENCE`]: never a fixed
//! sleep, and never an assertion of how fast.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};

use super::webdriver::{Client, Locator};

/// The longest a page may take to say what a test waits for.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// How often a wait looks at the page again.
const POLL: Duration = Duration::from_millis(200);

fn program(variable: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var(variable).map_or_else(|_| PathBuf::from(default), PathBuf::from);
    path.exists().then_some(path)
}

/// A chromedriver child process, killed when dropped.
pub struct Driver {
    _child: tokio::process::Child,
    url: String,
}

impl Driver {
    /// The driver and Chromium's path, or `None` (skipped) when Chromium is not installed
    /// outside CI.
    pub async fn start() -> Option<(Driver, PathBuf)> {
        let found = program("CHROMEDRIVER", "/usr/bin/chromedriver")
            .zip(program("CHROMIUM", "/usr/bin/chromium"));
        let Some((driver, chromium)) = found else {
            assert!(
                !super::required_backends(),
                "CI=true but chromium or chromedriver is missing: apt-get install chromium chromium-driver"
            );
            eprintln!("skipped: chromium or chromedriver is missing (apt-get install chromium chromium-driver)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .unwrap_or_else(|e| panic!("no free port for chromedriver: {e}"))
            .port();
        let child = tokio::process::Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver.display()));
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Some((Driver { _child: child, url }, chromium));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not listen on port {port}");
    }

    /// A browser session with JavaScript on.
    pub async fn session(&self, chromium: &Path) -> Client {
        self.session_with(chromium, json!({})).await
    }

    /// A browser session with JavaScript off, as a user who blocks it has: the content
    /// setting, so that pages run no script at all (`<noscript>` applies).
    pub async fn session_without_javascript(&self, chromium: &Path) -> Client {
        let prefs = json!({ "profile.managed_default_content_settings.javascript": 2 });
        self.session_with(chromium, prefs).await
    }

    async fn session_with(&self, chromium: &Path, prefs: Value) -> Client {
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1600"],
                "prefs": prefs,
            }
        });
        Client::connect(&self.url, capabilities).await
    }
}

/// The directory named by the environment variable `variable`, else `target/<default>` (under
/// `CARGO_TARGET_DIR` when set, else the workspace's `target`).
pub fn artifacts_dir(variable: &str, default: &str) -> PathBuf {
    if let Ok(dir) = std::env::var(variable) {
        return PathBuf::from(dir);
    }
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join(default)
}

/// Saves a screenshot of the viewport as `dir/name.png`.
pub async fn screenshot(client: &Client, dir: &Path, name: &str) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let png = client.screenshot().await;
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// Waits until the page's text contains `text`.
pub async fn wait_for_text(client: &Client, text: &str) {
    wait_until_said(client, None, text).await;
}

/// Opens `url` again and again until the page says `text`: for what changes behind a page that
/// does not follow it.
pub async fn wait_for_text_reloading(client: &Client, url: &str, text: &str) {
    wait_until_said(client, Some(url), text).await;
}

/// Reads the page (opening `reload` first each time, when given) until it says `text`.
async fn wait_until_said(client: &Client, reload: Option<&str>, text: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(url) = reload {
            client.goto(url).await;
        }
        let source = client.source().await;
        if source.contains(text) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the page never said `{text}`: {source}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Runs `script` (a function body returning a value) until its value is truthy — not null,
/// false, 0, "" or an empty array — and gives that value; fails after `patience`, saying
/// `what` was awaited and the last value.
pub async fn wait_for_script(
    client: &Client,
    script: &str,
    what: &str,
    patience: Duration,
) -> Value {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let value = client.execute(script).await;
        let truthy = match &value {
            Value::Null | Value::Bool(false) => false,
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            _ => true,
        };
        if truthy {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the page never showed {what} within {patience:?}; last: {value}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Replaces the text of the field with id `id`.
pub async fn fill(client: &Client, id: &str, text: &str) {
    let field = client.find(Locator::Id(id)).await;
    field.clear().await;
    field.send_keys(text).await;
}

/// Clicks the first element `css` selects. A page that re-renders may replace the element
/// between finding and clicking it; then it is found again (a few times, `POLL` apart).
pub async fn click(client: &Client, css: &str) {
    const ATTEMPTS: usize = 10;
    for attempt in 1..=ATTEMPTS {
        match client.find(Locator::Css(css)).await.try_click().await {
            Ok(()) => return,
            Err(e) if e.contains("stale element reference") && attempt < ATTEMPTS => {
                tokio::time::sleep(POLL).await;
            }
            Err(e) => panic!("clicking {css}: {e}"),
        }
    }
}
