//! Where the load goes and what is prepared there before the clock starts: the target must be
//! this machine (loopback), and the catalog's products, the currencies and signed-in shoppers
//! are fetched and made first, untimed.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::Context as _;
use brigade_chassis::client::plain::{Answer, PlainClient};
use futures_util::StreamExt as _;
use http::{Method, Uri};
use tokio::time::Instant;

use super::mix::Values;

/// How long a shopper's access token is trusted for: the users service's tokens last 15
/// minutes; a run logs its shoppers in again when theirs are older than this.
pub const FRESH_FOR: Duration = Duration::from_secs(10 * 60);

const PASSWORD: &str = "correct horse battery load";

/// The base URL of the target (`http://127.0.0.1:8080`), refused unless it is plain HTTP on a
/// loopback address: a load generator pointed elsewhere is a denial-of-service tool.
pub fn loopback_base(url: &str) -> anyhow::Result<String> {
    let uri: Uri = url
        .parse()
        .with_context(|| format!("{url:?} is not a URL like http://127.0.0.1:8080"))?;
    anyhow::ensure!(
        uri.scheme_str() == Some("http"),
        "{url:?}: brigade load speaks plain http:// to this machine"
    );
    let host = uri.host().with_context(|| format!("{url:?} has no host"))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    anyhow::ensure!(
        loopback,
        "{url:?}: brigade load sends only to this machine, and {host} is not a \
         loopback address (use 127.0.0.1, ::1 or localhost)"
    );
    anyhow::ensure!(
        uri.path() == "/" || uri.path().is_empty(),
        "{url:?}: give only scheme, host and port; the mix's paths say the rest"
    );
    let port = uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
    Ok(format!("http://{host}{port}"))
}

/// The catalog's products (up to 100), its currency and the supported currencies.
pub async fn values(client: &PlainClient, base: &str) -> anyhow::Result<Values> {
    let items = listed(client, base).await?;
    let products: Vec<String> = items
        .iter()
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect();
    anyhow::ensure!(!products.is_empty(), "the catalog lists no products");
    let catalog_currency = items
        .iter()
        .find_map(|p| p["price"]["currency"].as_str())
        .unwrap_or("EUR")
        .to_owned();
    let list: serde_json::Value = client
        .get_json(&format!("{base}/api/v1/currencies"))
        .await
        .context("listing the currencies through the gateway")?;
    let mut currencies: Vec<String> = list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|c| c["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if currencies.is_empty() {
        currencies.push(catalog_currency.clone());
    }
    Ok(Values {
        products,
        currencies,
        catalog_currency,
    })
}

/// Sets the stock of the catalog's first 100 products (the ones `{{product}}` draws from) to
/// `stock`, through the inventory service's own stock route, found in the registry of the
/// control plane at `control`: the shop's stock is finite, and a long run would otherwise
/// measure checkouts cancelled for want of it (a cheaper path than a confirmed one).
pub async fn restock(
    client: &PlainClient,
    base: &str,
    control: &str,
    operator_credential: &brigade_operator::credential::OperatorCredential,
    stock: u64,
) -> anyhow::Result<()> {
    let items = listed(client, base).await?;
    let operator =
        brigade_operator::operator_identity(control, operator_credential, "inventory").await?;
    let inventory = brigade_operator::status::fetch(control)
        .await
        .with_context(|| format!("--restock asks the control plane at {control} for inventory"))?
        .services
        .into_iter()
        .find(|s| s.name == "inventory")
        .and_then(|s| s.instances.into_iter().find_map(|i| i.address))
        .context("--restock: the system runs no inventory instance")?;
    let body = serde_json::json!({ "stock": stock }).to_string();
    for sku in items.iter().filter_map(|p| p["sku"].as_str()) {
        let url = format!("http://{inventory}/v1/stock/{sku}");
        let request = http::Request::builder()
            .method(Method::PUT)
            .uri(&url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(brigade_chassis::identity::HEADER, &operator)
            .body(body.clone().into())?;
        let answer = client.send_request(request).await?;
        succeeded(&answer, &format!("--restock: setting the stock of {sku}"))?;
    }
    Ok(())
}

/// The catalog's first 100 products as the gateway lists them.
async fn listed(client: &PlainClient, base: &str) -> anyhow::Result<Vec<serde_json::Value>> {
    let listing: serde_json::Value = client
        .get_json(&format!("{base}/api/v1/products?page_size=100"))
        .await
        .context("listing the catalog's products through the gateway")?;
    Ok(listing["items"].as_array().cloned().unwrap_or_default())
}

/// An error saying what `doing` got unless the answer is a success.
fn succeeded(answer: &Answer, doing: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        answer.status.is_success(),
        "{doing} answered {}: {}",
        answer.status,
        String::from_utf8_lossy(&answer.body)
    );
    Ok(())
}

/// Signed-up shoppers and their access tokens.
#[derive(Debug, Clone)]
pub struct Shoppers {
    emails: Vec<String>,
    pub tokens: Vec<String>,
    logged_in: Instant,
}

impl Shoppers {
    /// Signs up `count` new shoppers and logs them in, a few at a time (each hashes a password).
    pub async fn sign_up(client: &PlainClient, base: &str, count: u32) -> anyhow::Result<Shoppers> {
        let run = uuid::Uuid::new_v4().simple().to_string();
        let emails: Vec<String> = (0..count)
            .map(|i| format!("load{i}-{}@load.example", &run[..12]))
            .collect();
        let signed_up: Vec<anyhow::Result<()>> = futures_util::stream::iter(&emails)
            .map(|email| async move {
                let body = serde_json::json!({
                    "email": email, "password": PASSWORD, "name": "Load Shopper"
                });
                let answer = client
                    .send(
                        Method::POST,
                        &format!("{base}/api/v1/users"),
                        Some(body.to_string().into()),
                    )
                    .await?;
                succeeded(&answer, "signing a shopper up")
            })
            .buffer_unordered(4)
            .collect()
            .await;
        signed_up.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
        let tokens = log_in(client, base, &emails).await?;
        Ok(Shoppers {
            emails,
            tokens,
            logged_in: Instant::now(),
        })
    }

    /// Logs the shoppers in again if their tokens are getting old.
    pub async fn refresh(&mut self, client: &PlainClient, base: &str) -> anyhow::Result<()> {
        if self.logged_in.elapsed() >= FRESH_FOR {
            self.tokens = log_in(client, base, &self.emails).await?;
            self.logged_in = Instant::now();
        }
        Ok(())
    }
}

async fn log_in(
    client: &PlainClient,
    base: &str,
    emails: &[String],
) -> anyhow::Result<Vec<String>> {
    let tokens: Vec<anyhow::Result<String>> = futures_util::stream::iter(emails)
        .map(|email| async move {
            let credentials = serde_json::json!({ "email": email, "password": PASSWORD });
            let session: serde_json::Value = client
                .send_json(
                    Method::POST,
                    &format!("{base}/api/v1/sessions"),
                    &credentials,
                )
                .await
                .context("logging a shopper in")?;
            session["access_token"]
                .as_str()
                .map(str::to_owned)
                .context("logging a shopper in gave no access_token")
        })
        .buffered(4)
        .collect()
        .await;
    tokens.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_are_accepted() {
        assert_eq!(
            loopback_base("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            loopback_base("http://localhost:8080/").unwrap(),
            "http://localhost:8080"
        );
        assert_eq!(loopback_base("http://[::1]:80").unwrap(), "http://[::1]:80");
        assert!(loopback_base("http://127.1.2.3:9").is_ok());
        for refused in [
            "http://10.0.0.1:8080",
            "http://example.com",
            "https://127.0.0.1:8080",
            "http://127.0.0.1:8080/api",
            "127.0.0.1:8080",
        ] {
            assert!(loopback_base(refused).is_err(), "{refused}");
        }
        let message = loopback_base("http://192.168.1.5:8080")
            .unwrap_err()
            .to_string();
        assert!(message.contains("not a loopback address"), "{message}");
    }
}
