//! The steps a shopper takes in headless Chromium (`browser`, `browser_failures`), over the
//! chassis' Chromium helpers (`brigade_chassis::testing::chromium`). Screenshots of every page go
//! to `target/screenshots/` (`$CARGO_TARGET_DIR/screenshots/` when set; `BRIGADE_SCREENSHOTS`
//! overrides).
use brigade_chassis::testing::chromium::{artifacts_dir, click, fill, screenshot, wait_for_text};
use brigade_chassis::testing::webdriver::Client;

/// Takes a screenshot named `name`.
pub async fn shoot(client: &Client, name: &str) {
    screenshot(
        client,
        &artifacts_dir("BRIGADE_SCREENSHOTS", "screenshots"),
        name,
    )
    .await;
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
