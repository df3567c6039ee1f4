//! The shoppers of `brigade bench storefront`, prepared before the clock starts: each signs up
//! through the storefront's form (as a person would: the form's CSRF token, the session cookie),
//! logs in through the gateway for a token, and fills their cart there. Both sides then show
//! the same shopper the same cart.

use std::time::Duration;

use anyhow::Context as _;
use brigade_chassis::client::plain::{Answer, PlainClient};
use futures_util::StreamExt;
use http::{header, Method, Request};
use uuid::Uuid;

use crate::fixtures::Listed;

const PASSWORD: &str = "correct horse battery";

/// A signed-in shopper, as each side knows them.
#[derive(Debug, Clone)]
pub struct Shopper {
    /// The storefront's session cookie (`name=value`), signed in, with no notice left to show:
    /// the storefront does not re-seal it on every page.
    pub cookie: String,
    /// The users service's access token, for the gateway.
    pub token: String,
}

/// `count` shoppers, each with `per_cart` of `products` in their cart.
pub async fn prepare(
    client: &PlainClient,
    sites: &super::Sites,
    products: &[Listed],
    count: usize,
    per_cart: usize,
) -> anyhow::Result<Vec<Shopper>> {
    let run = Uuid::new_v4().simple().to_string();
    let prepared: Vec<anyhow::Result<Shopper>> = futures_util::stream::iter(0..count)
        .map(|i| {
            let email = format!("shopper{i}-{}@bench.example", &run[..8]);
            let cart: Vec<&Listed> = (0..per_cart)
                .map(|k| &products[(i + k) % products.len()])
                .collect();
            async move { one(client, sites, &email, &cart).await }
        })
        // Each sign-up and log-in hashes a password (argon2): a few at a time is all two
        // cores take.
        .buffered(4)
        .collect()
        .await;
    let shoppers = prepared.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    check_same_cart(client, sites, &shoppers[0], &products[0]).await?;
    Ok(shoppers)
}

async fn one(
    client: &PlainClient,
    sites: &super::Sites,
    email: &str,
    cart: &[&Listed],
) -> anyhow::Result<Shopper> {
    let storefront = &sites.storefront;
    let form = get(client, &format!("{storefront}/signup"), None, None).await?;
    let cookie = session_cookie(&form).context("the sign-up page set no session cookie")?;
    let csrf = csrf_of(&form.body).context("the sign-up page has no csrf field")?;
    let fields = serde_urlencoded::to_string([
        ("csrf", csrf.as_str()),
        ("name", "Bench Shopper"),
        ("email", email),
        ("password", PASSWORD),
    ])?;
    let request = Request::post(format!("{storefront}/signup"))
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(fields.into())?;
    let signed_up = client.send_request(request).await?;
    anyhow::ensure!(
        signed_up.status == 303,
        "signing up through the storefront answered {}: {}",
        signed_up.status,
        String::from_utf8_lossy(&signed_up.body)
    );
    let cookie = session_cookie(&signed_up).context("signing up set no session cookie")?;
    // The page after signing up shows the welcome notice once, and seals the session without
    // it: that cookie is the one a browser keeps sending.
    let welcomed = get(client, &format!("{storefront}/"), Some(&cookie), None).await?;
    let cookie = session_cookie(&welcomed).unwrap_or(cookie);

    let credentials = serde_json::json!({ "email": email, "password": PASSWORD });
    let granted: serde_json::Value = client
        .send_json(
            Method::POST,
            &format!("{}/api/v1/sessions", sites.gateway),
            &credentials,
        )
        .await?;
    let token = granted["access_token"]
        .as_str()
        .context("the gateway's log-in gave no access_token")?
        .to_owned();
    for product in cart {
        let request = Request::put(format!(
            "{}/api/v1/cart/items/{}",
            sites.gateway, product.id
        ))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(r#"{"quantity":2}"#.into())?;
        let added = client.send_request(request).await?;
        anyhow::ensure!(
            added.status == 200,
            "filling a cart answered {}",
            added.status
        );
    }
    Ok(Shopper { cookie, token })
}

/// Fails unless the storefront's cart page and the gateway's cart show `first`, the first
/// shopper's first line: a session that did not stick would measure an empty guest cart.
async fn check_same_cart(
    client: &PlainClient,
    sites: &super::Sites,
    shopper: &Shopper,
    first: &Listed,
) -> anyhow::Result<()> {
    let page = get(
        client,
        &format!("{}/cart", sites.storefront),
        Some(&shopper.cookie),
        None,
    )
    .await?;
    let json = get(
        client,
        &format!("{}/api/v1/cart", sites.gateway),
        None,
        Some(&shopper.token),
    )
    .await?;
    let shown = String::from_utf8_lossy(&page.body);
    let listed = String::from_utf8_lossy(&json.body);
    anyhow::ensure!(
        page.status == 200 && shown.contains(&first.id),
        "the storefront's cart page does not show the shopper's cart ({})",
        page.status
    );
    anyhow::ensure!(
        json.status == 200 && listed.contains(&first.id),
        "the gateway's cart does not show the shopper's cart ({})",
        json.status
    );
    Ok(())
}

/// A GET with the session `cookie` or the bearer `token`, if given.
pub async fn get(
    client: &PlainClient,
    url: &str,
    cookie: Option<&str>,
    token: Option<&str>,
) -> anyhow::Result<Answer> {
    Ok(client.send_request(request(url, cookie, token)?).await?)
}

/// The request [`get`] sends.
pub fn request(
    url: &str,
    cookie: Option<&str>,
    token: Option<&str>,
) -> Result<Request<http_body_util::Full<bytes::Bytes>>, http::Error> {
    let mut request = Request::get(url);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Default::default())
}

/// The `name=value` of the answer's Set-Cookie, if it set one.
fn session_cookie(answer: &Answer) -> Option<String> {
    let set = answer.headers.get(header::SET_COOKIE)?.to_str().ok()?;
    set.split(';').next().map(str::to_owned)
}

/// The value of the page's hidden `csrf` input.
fn csrf_of(page: &[u8]) -> Option<String> {
    let page = String::from_utf8_lossy(page);
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker)? + marker.len();
    let end = page[start..].find('"')?;
    Some(page[start..start + end].to_owned())
}

/// How long a prepared shopper stays signed in: the users service's access tokens last 15
/// minutes; the benchmark must end well before.
pub const SIGNED_IN_FOR: Duration = Duration::from_secs(15 * 60);
