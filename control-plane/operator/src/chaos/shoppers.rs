//! The scenario's shoppers, through the gateway's public API exactly as a real client uses it:
//! sign up and log in, fill a cart, check out with an `Idempotency-Key` (and, after a 5xx or a
//! broken connection, ask again with the same key a few times), and browse product pages.
//!
//! A scenario runs against a system started elsewhere, so shoppers cannot be given tokens signed
//! with a test key as `brigade bench checkout` does: they sign up like anyone else.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use brigade_chassis::client::plain::{Answer, PlainClient};
use brigade_chassis::identity::Identity;
use brigade_chassis::Problem;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use inventory_api::{paths, SetStock, StockLevel};
use serde::Serialize;
use serde_json::{json, Value};

/// How many times a checkout is sent again after a 5xx or a transport error.
pub const CHECKOUT_RETRIES: u32 = 4;

/// The card every scenario checkout pays with: approved, so only faults make orders fail.
const CARD: &str = "4242424242424242";

/// A product a shopper can buy.
#[derive(Debug, Clone)]
pub struct Product {
    pub id: String,
    pub sku: String,
}

/// How one checkout ended, as the shopper saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Confirmed,
    Cancelled,
    /// Accepted but not finished when the answer came (202, or a PENDING order).
    Pending,
    /// No order: refused, or still failing after every retry; why.
    Failed(String),
}

/// What the shoppers' checkouts came to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckoutCounts {
    pub confirmed: u64,
    pub cancelled: u64,
    pub pending: u64,
    pub failed: u64,
    /// Checkouts that needed at least one retry.
    pub retried: u64,
    /// Why checkouts failed, with how often.
    pub failures: BTreeMap<String, u64>,
}

impl CheckoutCounts {
    pub fn record(&mut self, outcome: Outcome, retries: u32) {
        if retries > 0 {
            self.retried += 1;
        }
        match outcome {
            Outcome::Confirmed => self.confirmed += 1,
            Outcome::Cancelled => self.cancelled += 1,
            Outcome::Pending => self.pending += 1,
            Outcome::Failed(reason) => {
                self.failed += 1;
                *self.failures.entry(reason).or_default() += 1;
            }
        }
    }

    pub fn total(&self) -> u64 {
        self.confirmed + self.cancelled + self.pending + self.failed
    }
}

/// What product-page browsing came to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BrowseCounts {
    pub pages: u64,
    /// Pages whose product answered 200.
    pub ok: u64,
    /// Pages whose recommendations answered 200 too.
    pub recommendations_ok: u64,
}

impl BrowseCounts {
    /// The share of pages that showed their product, 1 when none were asked for.
    pub fn success_rate(&self) -> f64 {
        if self.pages == 0 {
            1.0
        } else {
            self.ok as f64 / self.pages as f64
        }
    }
}

/// The gateway, and the inventory for restocking.
#[derive(Debug, Clone)]
pub struct Shop {
    gateway: String,
    http: PlainClient,
}

/// A problem's code and status, or the status alone: short enough to count by.
fn reason(answer: &Answer) -> String {
    match serde_json::from_slice::<Problem>(&answer.body) {
        Ok(problem) => format!("{} {}", answer.status.as_u16(), problem.code()),
        Err(_) => answer.status.to_string(),
    }
}

impl Shop {
    pub fn new(gateway: &str) -> Shop {
        Shop {
            gateway: gateway.trim_end_matches('/').to_owned(),
            // Above the services' 10 s request limit, so that their answer, not ours, ends a call.
            http: PlainClient::new(Duration::from_secs(15)),
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Result<Answer, String> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}/api/v1{path}", self.gateway));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let request = request
            .body(Full::new(body))
            .map_err(|e| format!("cannot build the request: {e}"))?;
        self.http.send_request(request).await.map_err(|e| match e {
            brigade_chassis::client::plain::Error::Timeout { .. } => "timeout".to_owned(),
            _ => "transport error".to_owned(),
        })
    }

    /// Up to `count` products from the catalog's first page.
    pub async fn products(&self, count: usize) -> anyhow::Result<Vec<Product>> {
        let answer = self
            .send(
                Method::GET,
                &format!("/products?page_size={count}"),
                None,
                None,
                None,
            )
            .await
            .map_err(anyhow::Error::msg)
            .context("cannot list the products through the gateway")?;
        anyhow::ensure!(
            answer.status == StatusCode::OK,
            "listing the products through the gateway answered {}",
            reason(&answer)
        );
        let page: Value = serde_json::from_slice(&answer.body)?;
        let products: Vec<Product> = page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                Some(Product {
                    id: p["id"].as_str()?.to_owned(),
                    sku: p["sku"].as_str()?.to_owned(),
                })
            })
            .collect();
        anyhow::ensure!(!products.is_empty(), "the catalog lists no products");
        Ok(products)
    }

    /// Makes sure `sku` has at least `units` available, through the inventory's own API, as
    /// the operator (`operator`'s identity): stock is an operator's to read and set.
    pub async fn restock(
        &self,
        inventory: &str,
        operator: &Identity,
        sku: &str,
        units: u64,
    ) -> anyhow::Result<()> {
        let url = format!("http://{inventory}{}", paths::stock_level(sku));
        let token = operator
            .token_for("inventory")
            .await
            .context("cannot have the operator's identity to restock with")?;
        let level: StockLevel = self
            .as_operator(Method::GET, &url, &token, None)
            .await
            .with_context(|| format!("cannot read the stock of {sku}"))?;
        if level.available >= units {
            return Ok(());
        }
        let stock = level.held + level.committed + units;
        let body = serde_json::to_value(SetStock { stock })?;
        let _: StockLevel = self
            .as_operator(Method::PUT, &url, &token, Some(body))
            .await
            .with_context(|| format!("cannot restock {sku}"))?;
        Ok(())
    }

    /// `method` `url` with the operator's identity `token`, the 2xx JSON answer decoded.
    async fn as_operator<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        token: &str,
        body: Option<Value>,
    ) -> anyhow::Result<T> {
        let mut request = Request::builder()
            .method(method)
            .uri(url)
            .header(brigade_chassis::identity::HEADER, token);
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let answer = self
            .http
            .send_request(request.body(Full::new(body))?)
            .await?;
        anyhow::ensure!(
            answer.status.is_success(),
            "{url} answered {}",
            reason(&answer)
        );
        Ok(serde_json::from_slice(&answer.body)?)
    }

    /// Signs a new shopper up, logs them in and puts `product` in their cart; their token.
    pub async fn shopper(&self, email: &str, product: &Product) -> anyhow::Result<String> {
        let password = "correct horse battery staple";
        let step = |what: &str, answer: Result<Answer, String>, expected: StatusCode| {
            let answer = answer.map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
            anyhow::ensure!(
                answer.status == expected,
                "{what} answered {}",
                reason(&answer)
            );
            Ok(answer)
        };
        let account = json!({"email": email, "password": password, "name": "Chaos Shopper"});
        step(
            "signing up",
            self.send(Method::POST, "/users", None, None, Some(account))
                .await,
            StatusCode::CREATED,
        )?;
        let session = step(
            "logging in",
            self.send(
                Method::POST,
                "/sessions",
                None,
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await,
            StatusCode::OK,
        )?;
        let token = serde_json::from_slice::<Value>(&session.body)?["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("the session has no access_token")?;
        step(
            "filling the cart",
            self.send(
                Method::PUT,
                &format!("/cart/items/{}", product.id),
                Some(&token),
                None,
                Some(json!({"quantity": 1})),
            )
            .await,
            StatusCode::OK,
        )?;
        Ok(token)
    }

    /// Checks out like a real client: the same key again after a 5xx, a broken connection or
    /// "in progress", with growing pauses. The outcome and how many retries it took.
    pub async fn checkout(&self, token: &str, key: &str) -> (Outcome, u32) {
        let mut retries = 0;
        loop {
            let answer = self
                .send(
                    Method::POST,
                    "/checkout",
                    Some(token),
                    Some(key),
                    Some(json!({ "card_number": CARD })),
                )
                .await;
            let retry_because = match answer {
                Ok(answer) if answer.status == StatusCode::ACCEPTED => {
                    return (Outcome::Pending, retries)
                }
                Ok(answer) if answer.status.is_success() => {
                    let status = serde_json::from_slice::<Value>(&answer.body)
                        .ok()
                        .and_then(|o| o["status"].as_str().map(str::to_owned));
                    let outcome = match status.as_deref() {
                        Some("CONFIRMED") => Outcome::Confirmed,
                        Some("CANCELLED") => Outcome::Cancelled,
                        Some("PENDING") => Outcome::Pending,
                        _ => Outcome::Failed(format!("{} without an order status", answer.status)),
                    };
                    return (outcome, retries);
                }
                Ok(answer)
                    if answer.status.is_server_error()
                        || answer.status == StatusCode::CONFLICT
                            && reason(&answer).ends_with("request-in-progress") =>
                {
                    reason(&answer)
                }
                Ok(answer) => return (Outcome::Failed(reason(&answer)), retries),
                Err(error) => error,
            };
            if retries == CHECKOUT_RETRIES {
                return (Outcome::Failed(retry_because), retries);
            }
            retries += 1;
            tokio::time::sleep(Duration::from_millis(250) * 2u32.pow(retries - 1)).await;
        }
    }

    /// A product page (`/products/{id}/page`): whether it answered 200, and whether it came
    /// with its recommendations (the page answers without them when they are unavailable).
    pub async fn browse(&self, product: &Product) -> (bool, bool) {
        let answer = self
            .send(
                Method::GET,
                &format!("/products/{}/page", product.id),
                None,
                None,
                None,
            )
            .await;
        match answer {
            Ok(answer) if answer.status == StatusCode::OK => {
                let recommended = serde_json::from_slice::<serde_json::Value>(&answer.body)
                    .is_ok_and(|page| page["recommendations"]["status"] == "available");
                (true, recommended)
            }
            _ => (false, false),
        }
    }
}
