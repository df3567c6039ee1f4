//! What the tests share: a whole shop started in-process (every service on its own SQLite
//! store, found through static peers), and a browser that keeps the session cookie, reads pages
//! as text and sends forms with the page's CSRF token.
#![allow(dead_code)] // each test uses a part

use std::time::Duration;

use brigade_chassis::plain::PlainClient;
use brigade_chassis::testing::Instance;
use bytes::Bytes;
use http::{header, HeaderMap, Method, StatusCode};
use http_body_util::Full;

/// Where a peer that never answers is: nothing listens on port 1.
pub const NOWHERE: &str = "127.0.0.1:1";

/// Every service of the shop, and the storefront in front.
pub struct Shop {
    pub storefront: Instance,
    pub catalog: Instance,
    pub users: Instance,
    pub inventory: Instance,
    pub payments: Instance,
    pub cart: Instance,
    pub orders: Instance,
    pub recommendations: Instance,
    dir: tempfile::TempDir,
}

/// How to start a shop.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// The payments' slow test card stays pending this long (default: its own 3 s).
    pub slow_card_delay: Option<&'static str>,
}

fn database(dir: &tempfile::TempDir, name: &str) -> String {
    format!(
        "sqlite://{}",
        dir.path().join(format!("{name}.db")).display()
    )
}

fn peers(list: &[(&str, String)]) -> String {
    list.iter()
        .map(|(name, address)| format!("{name}={address}"))
        .collect::<Vec<_>>()
        .join(";")
}

async fn start<S: brigade_chassis::service::Service>(
    dir: &tempfile::TempDir,
    name: &str,
    peer_list: &[(&str, String)],
    extra: &[&str],
) -> Instance {
    let url = database(dir, name);
    let peer_text = peers(peer_list);
    let mut flags = vec!["--database-url", url.as_str()];
    if !peer_list.is_empty() {
        flags.extend(["--peers", peer_text.as_str()]);
    }
    flags.extend(extra);
    Instance::start::<S>(&flags).await
}

impl Shop {
    pub async fn start(options: Options) -> Shop {
        let dir = tempfile::tempdir().unwrap();
        let users = start::<users::Users>(&dir, "users", &[], &[]).await;
        let at = |i: &Instance| i.address.to_string();
        let catalog = start::<catalog::Catalog>(&dir, "catalog", &[], &[]).await;
        let inventory = start::<inventory::Inventory>(&dir, "inventory", &[], &[]).await;
        let mut payment_flags = Vec::new();
        if let Some(delay) = options.slow_card_delay {
            payment_flags.extend(["--slow-card-delay", delay]);
        }
        let payments = start::<payments::Payments>(&dir, "payments", &[], &payment_flags).await;
        let cart = start::<cart::Cart>(
            &dir,
            "cart",
            &[("catalog", at(&catalog)), ("users", at(&users))],
            &[],
        )
        .await;
        let orders = start::<orders::Orders>(
            &dir,
            "orders",
            &[
                ("cart", at(&cart)),
                ("catalog", at(&catalog)),
                ("inventory", at(&inventory)),
                ("payments", at(&payments)),
                ("users", at(&users)),
            ],
            &[],
        )
        .await;
        let recommendations = start::<recommendations::Recommendations>(
            &dir,
            "recommendations",
            &[("catalog", at(&catalog)), ("orders", at(&orders))],
            &[],
        )
        .await;
        let everything = [
            ("catalog", at(&catalog)),
            ("users", at(&users)),
            ("cart", at(&cart)),
            ("orders", at(&orders)),
            ("inventory", at(&inventory)),
            ("recommendations", at(&recommendations)),
        ];
        let storefront = storefront_with(&everything, &[]).await;
        Shop {
            storefront,
            catalog,
            users,
            inventory,
            payments,
            cart,
            orders,
            recommendations,
            dir,
        }
    }

    /// The peers of this shop's storefront, with `replaced` ones pointing elsewhere.
    pub fn peers_with(&self, replaced: &[(&str, &str)]) -> Vec<(&'static str, String)> {
        let mut list = vec![
            ("catalog", self.catalog.address.to_string()),
            ("users", self.users.address.to_string()),
            ("cart", self.cart.address.to_string()),
            ("orders", self.orders.address.to_string()),
            ("inventory", self.inventory.address.to_string()),
            ("recommendations", self.recommendations.address.to_string()),
        ];
        for (name, address) in replaced {
            if let Some(entry) = list.iter_mut().find(|(n, _)| n == name) {
                entry.1 = (*address).to_owned();
            }
        }
        list
    }

    /// A second orders instance of this shop whose payments is `payments`.
    pub async fn orders_paying_at(&self, payments: &str) -> Instance {
        start::<orders::Orders>(
            &self.dir,
            "orders",
            &[
                ("cart", self.cart.address.to_string()),
                ("catalog", self.catalog.address.to_string()),
                ("inventory", self.inventory.address.to_string()),
                ("payments", payments.to_owned()),
                ("users", self.users.address.to_string()),
            ],
            &[],
        )
        .await
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.storefront.url())
    }
}

/// A storefront instance whose discovery knows `peer_list` only.
pub async fn storefront_with(peer_list: &[(&str, String)], extra: &[&str]) -> Instance {
    let peer_text = peers(peer_list);
    let mut flags = vec!["--peers", peer_text.as_str()];
    flags.extend(extra);
    Instance::start::<storefront::StorefrontService>(&flags).await
}

/// An answer, its body as text.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: impl header::AsHeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// Asserts the status and that the page says each of `texts`.
    pub fn says(&self, status: StatusCode, texts: &[&str]) -> &Page {
        assert_eq!(self.status, status, "{}", self.body);
        for text in texts {
            assert!(
                self.body.contains(text),
                "the page lacks `{text}`: {}",
                self.body
            );
        }
        self
    }

    pub fn lacks(&self, texts: &[&str]) -> &Page {
        for text in texts {
            assert!(
                !self.body.contains(text),
                "the page says `{text}`: {}",
                self.body
            );
        }
        self
    }

    /// The `value` of the first input named `name`.
    pub fn input(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')?;
        Some(self.body[start..start + end].to_owned())
    }

    /// Every `href="…"` that starts with `prefix`.
    pub fn links(&self, prefix: &str) -> Vec<String> {
        let marker = format!("href=\"{prefix}");
        self.body
            .match_indices(&marker)
            .filter_map(|(at, _)| {
                let start = at + "href=\"".len();
                let end = self.body[start..].find('"')?;
                Some(
                    self.body[start..start + end]
                        .replace("&amp;", "&")
                        .replace("&#38;", "&"),
                )
            })
            .collect()
    }
}

/// A browser without JavaScript: it keeps the session cookie and follows no redirects.
pub struct Browser {
    base: String,
    client: PlainClient,
    cookie: Option<String>,
    /// The CSRF token of the last page that had a form.
    pub csrf: Option<String>,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            base: base.trim_end_matches('/').to_owned(),
            client: PlainClient::new(Duration::from_secs(30)),
            cookie: None,
            csrf: None,
        }
    }

    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Page {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie.as_str());
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap();
        let answer = self.client.send_request(request).await.unwrap();
        if let Some(set) = answer.headers.get(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            self.cookie = Some(set.split(';').next().unwrap().to_owned());
        }
        let page = Page {
            status: answer.status,
            headers: answer.headers,
            body: String::from_utf8_lossy(&answer.body).into_owned(),
        };
        if let Some(token) = page.input("csrf") {
            self.csrf = Some(token);
        }
        page
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, &[], None).await
    }

    /// Posts `fields` with the session's CSRF token.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf.clone().unwrap_or_default();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Posts exactly `fields`.
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.send(Method::POST, path, &[], Some(body)).await
    }

    /// Follows a 303 to the page it names.
    pub async fn follow(&mut self, redirect: &Page) -> Page {
        assert_eq!(redirect.status, StatusCode::SEE_OTHER, "{}", redirect.body);
        let to = redirect.header(header::LOCATION).to_owned();
        self.get(&to).await
    }

    pub fn cookie(&self) -> Option<&str> {
        self.cookie.as_deref()
    }

    pub fn set_cookie(&mut self, cookie: Option<String>) {
        self.cookie = cookie;
    }
}

/// The first product page linked from `page`.
pub fn first_product(page: &Page) -> String {
    page.links("/products/")
        .into_iter()
        .next()
        .expect("a product link")
}
