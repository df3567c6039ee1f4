//! The headless Chromium the browser tests drive (`browser`, `browser_failures`): chromedriver
//! started and stopped, a browser session with or without JavaScript, screenshots, and the
//! steps a shopper takes in it.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`,
//! `/usr/bin/chromedriver`; `CHROMIUM` and `CHROMEDRIVER` name others). Without them a test
//! says it was skipped, except under `CI=true`, where it fails. Screenshots of every page go to
//! `target/screenshots/` (`$CARGO_TARGET_DIR/screenshots/` when set; `BRIGADE_SCREENSHOTS`
//! overrides).
//!
//! Every wait polls the page (or reloads it) until it says what is awaited, up to
//! [`PATIENCE`]: never a fixed sleep.
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::webdriver::{Client, Locator};

/// The longest a page may take to say what a test waits for.
const PATIENCE: Duration = Duration::from_secs(20);

fn program(variable: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var(variable).map_or_else(|_| PathBuf::from(default), PathBuf::from);
    path.exists().then_some(path)
}

fn screenshots_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("BRIGADE_SCREENSHOTS") {
        return PathBuf::from(dir);
    }
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join("screenshots")
}

/// A chromedriver child process, killed when dropped.
pub struct Driver {
    _child: tokio::process::Child,
    url: String,
}

impl Driver {
    /// The driver, or `None` (skipped) when Chromium is not installed outside CI.
    pub async fn start() -> Option<(Driver, PathBuf)> {
        let found = program("CHROMEDRIVER", "/usr/bin/chromedriver")
            .zip(program("CHROMIUM", "/usr/bin/chromium"));
        let Some((driver, chromium)) = found else {
            assert!(
                !brigade_chassis::testing::required_backends(),
                "CI=true but chromium or chromedriver is missing: apt-get install chromium chromium-driver"
            );
            eprintln!("skipped: chromium or chromedriver is missing (apt-get install chromium chromium-driver)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
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

    /// A browser session with JavaScript off, as a shopper who blocks it has: the content
    /// setting, so that pages run no script at all (`<noscript>` applies).
    pub async fn session_without_javascript(&self, chromium: &Path) -> Client {
        let prefs = json!({ "profile.managed_default_content_settings.javascript": 2 });
        self.session_with(chromium, prefs).await
    }

    async fn session_with(&self, chromium: &Path, prefs: serde_json::Value) -> Client {
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

/// Takes a screenshot named `name`.
pub async fn shoot(client: &Client, name: &str) {
    let dir = screenshots_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await;
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Waits until the page's text contains `text`.
pub async fn wait_for_text(client: &Client, text: &str) {
    wait_until_said(client, None, text).await;
}

/// Opens `url` again and again until the page says `text`: for what changes behind a page that
/// does not follow it (the history, the mailbox, a model learning).
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
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn fill(client: &Client, id: &str, text: &str) {
    let field = client.find(Locator::Id(id)).await;
    field.clear().await;
    field.send_keys(text).await;
}

pub async fn click(client: &Client, css: &str) {
    client.find(Locator::Css(css)).await.click().await;
}

/// Fills and sends the sign-up form the browser shows, with a screenshot named `shot`.
pub async fn sign_up(client: &Client, email: &str, shot: Option<&str>) {
    wait_for_text(client, "Create my account").await;
    for (field, text) in [
        ("name", "Ada"),
        ("email", email),
        ("password", "correct horse battery"),
    ] {
        fill(client, field, text).await;
    }
    if let Some(shot) = shot {
        shoot(client, shot).await;
    }
    click(client, "main form button").await;
}

/// Fills and sends the checkout form the browser shows, paying with `card`.
pub async fn place_order(client: &Client, card: &str, shot: Option<&str>) {
    for (field, text) in crate::support::checkout_fields(card) {
        if field != "country" {
            fill(client, field, &text).await;
        }
    }
    if let Some(shot) = shot {
        shoot(client, shot).await;
    }
    click(client, "main form button").await;
}
