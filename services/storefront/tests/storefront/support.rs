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
    pub shipping: Instance,
    /// The orders instance shipping reads the events of (see [`Shop::start`]).
    pub orders_feed: Instance,
    pub notifications: Instance,
    /// `None` once [`Shop::kill_currency`] stopped it.
    pub currency: Option<Instance>,
    /// Where currency was: its peers keep calling there after it is killed.
    currency_at: String,
    dir: tempfile::TempDir,
}

/// How to start a shop.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// The payments' slow test card stays pending this long (default: its own 3 s).
    pub slow_card_delay: Option<&'static str>,
}

/// Who each service calls (or reads events from), by name.
const CALLS: [(&str, &[&str]); 6] = [
    ("cart", &["catalog", "users"]),
    (
        "orders",
        &[
            "cart",
            "catalog",
            "inventory",
            "payments",
            "users",
            "shipping",
            "currency",
        ],
    ),
    ("recommendations", &["catalog", "orders"]),
    ("shipping", &["orders"]),
    (
        "notifications",
        &["users", "orders", "payments", "shipping"],
    ),
    (
        "storefront",
        &[
            "catalog",
            "users",
            "cart",
            "orders",
            "inventory",
            "recommendations",
            "shipping",
            "notifications",
            "currency",
        ],
    ),
];

/// The services started so far, by name and address.
#[derive(Default)]
struct Started(Vec<(&'static str, String)>);

impl Started {
    fn add(&mut self, name: &'static str, instance: &Instance) {
        self.0.push((name, instance.address.to_string()));
    }

    /// The `--peers` value for `service`: the addresses of the services it calls.
    fn peers_of(&self, service: &str) -> String {
        let (_, callees) = CALLS.iter().find(|(name, _)| *name == service).unwrap();
        self.0
            .iter()
            .filter(|(name, _)| callees.contains(name))
            .map(|(name, address)| format!("{name}={address}"))
            .collect::<Vec<_>>()
            .join(";")
    }
}

/// `S` as `name`, on its own SQLite store in `dir`, with `--peers` and `extra` flags.
async fn start<S: brigade_chassis::service::Service>(
    dir: &tempfile::TempDir,
    name: &str,
    peers: &str,
    extra: &[&str],
) -> Instance {
    let url = format!(
        "sqlite://{}",
        dir.path().join(format!("{name}.db")).display()
    );
    let mut flags = vec!["--database-url", url.as_str()];
    if !peers.is_empty() {
        flags.extend(["--peers", peers]);
    }
    flags.extend(extra);
    Instance::start::<S>(&flags).await
}

/// A storefront calling `peers`. It keeps the currency table only briefly, so that a test sees
/// the currency service's death within a second or two.
async fn start_storefront(peers: &str) -> Instance {
    Instance::start::<storefront::StorefrontService>(&[
        "--peers",
        peers,
        "--currency-rates-ttl",
        "500ms",
    ])
    .await
}

impl Shop {
    pub async fn start(options: Options) -> Shop {
        let dir = tempfile::tempdir().unwrap();
        let mut started = Started::default();
        let users = start::<users::Users>(&dir, "users", "", &[]).await;
        started.add("users", &users);
        let catalog = start::<catalog::Catalog>(&dir, "catalog", "", &[]).await;
        started.add("catalog", &catalog);
        let inventory = start::<inventory::Inventory>(&dir, "inventory", "", &[]).await;
        started.add("inventory", &inventory);
        let delay = options.slow_card_delay.map(|d| ["--slow-card-delay", d]);
        let payment_flags = delay.as_ref().map_or(&[][..], |d| &d[..]);
        let payments = start::<payments::Payments>(&dir, "payments", "", payment_flags).await;
        started.add("payments", &payments);
        let cart = start::<cart::Cart>(&dir, "cart", &started.peers_of("cart"), &[]).await;
        started.add("cart", &cart);
        let currency = start::<currency::Currency>(&dir, "currency", "", &[]).await;
        started.add("currency", &currency);
        // Shipping reads orders' events and orders asks shipping for quotes, and static peers
        // are known at start: a first orders instance (whose shipping is nowhere) serves
        // shipping the feed of the store both orders instances share; the second, which the
        // storefront calls, knows shipping.
        let peers = format!("{};shipping={NOWHERE}", started.peers_of("orders"));
        let orders_feed = start::<orders::Orders>(&dir, "orders", &peers, &[]).await;
        let orders_peer = format!("orders={}", orders_feed.address);
        let shipping = start::<shipping::Shipping>(&dir, "shipping", &orders_peer, &[]).await;
        started.add("shipping", &shipping);
        let peers = started.peers_of("orders");
        let orders = start::<orders::Orders>(&dir, "orders", &peers, &[]).await;
        started.add("orders", &orders);
        let peers = started.peers_of("recommendations");
        let recommendations =
            start::<recommendations::Recommendations>(&dir, "recommendations", &peers, &[]).await;
        started.add("recommendations", &recommendations);
        let peers = started.peers_of("notifications");
        let notifications =
            start::<notifications::Notifications>(&dir, "notifications", &peers, &[]).await;
        started.add("notifications", &notifications);
        let peers = started.peers_of("storefront");
        let storefront = start_storefront(&peers).await;
        Shop {
            storefront,
            catalog,
            users,
            inventory,
            payments,
            cart,
            orders,
            recommendations,
            shipping,
            orders_feed,
            notifications,
            currency_at: currency.address.to_string(),
            currency: Some(currency),
            dir,
        }
    }

    /// Stops the currency service for good; its peers keep calling where it was.
    pub async fn kill_currency(&mut self) {
        if let Some(currency) = self.currency.take() {
            currency.stop().await.unwrap();
        }
    }

    /// Every service but the storefront, with `replaced` ones at other addresses.
    fn started(&self, replaced: &[(&str, &str)]) -> Started {
        let mut started = Started::default();
        for (name, instance) in [
            ("catalog", &self.catalog),
            ("users", &self.users),
            ("inventory", &self.inventory),
            ("payments", &self.payments),
            ("cart", &self.cart),
            ("orders", &self.orders),
            ("recommendations", &self.recommendations),
            ("shipping", &self.shipping),
            ("notifications", &self.notifications),
        ] {
            started.add(name, instance);
        }
        started.0.push(("currency", self.currency_at.clone()));
        for (name, address) in replaced {
            if let Some(entry) = started.0.iter_mut().find(|(n, _)| n == name) {
                entry.1 = (*address).to_owned();
            }
        }
        started
    }

    /// Another storefront of this shop, whose `replaced` peers are at other addresses.
    pub async fn storefront_with(&self, replaced: &[(&str, &str)]) -> Instance {
        let peers = self.started(replaced).peers_of("storefront");
        start_storefront(&peers).await
    }

    /// A second orders instance of this shop whose payments is `payments`.
    pub async fn orders_paying_at(&self, payments: &str) -> Instance {
        let peers = self.started(&[("payments", payments)]).peers_of("orders");
        start::<orders::Orders>(&self.dir, "orders", &peers, &[]).await
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.storefront.url())
    }

    /// A new shopper on the first product of the home page: the browser, the product's path
    /// and id, and its page.
    pub async fn shopper_on_a_product(&self) -> (Browser, String, String, Page) {
        let mut browser = self.browser();
        let home = browser.get("/").await;
        let product = first_product(&home);
        let id = product.trim_start_matches("/products/").to_owned();
        let page = browser.get(&product).await;
        (browser, product, id, page)
    }
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

/// A delivery address and `card`, as the checkout form's fields.
pub fn checkout_fields(card: &str) -> Vec<(&'static str, String)> {
    vec![
        ("full_name", "Ada Lovelace".to_owned()),
        ("address", "12 Analytical Row".to_owned()),
        ("city", "London".to_owned()),
        ("postal_code", "N1 9GU".to_owned()),
        ("country", "GB".to_owned()),
        ("card_number", card.to_owned()),
    ]
}

/// What a shopper does, in the steps the tests repeat.
impl Browser {
    /// Signs up as `name` with `email` (and the password "correct horse battery"), and gives the
    /// page it leads to (signing in renews the CSRF token: the next form needs that page's).
    pub async fn sign_up(&mut self, name: &str, email: &str) -> Page {
        self.get("/signup").await;
        let fields = [
            ("name", name),
            ("email", email),
            ("password", "correct horse battery"),
        ];
        let signed_up = self.post("/signup", &fields).await;
        self.follow(&signed_up).await
    }

    /// Puts `quantity` of the product at `product` (its page's path) in the cart.
    pub async fn add_to_cart(&mut self, product: &str, quantity: &str) -> Page {
        let id = product.trim_start_matches("/products/").to_owned();
        let added = self
            .post("/cart/add", &[("product_id", &id), ("quantity", quantity)])
            .await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
        added
    }

    /// Sends the checkout form with an address and `card`, under `attempt` (a new one, read from
    /// the form, when `None`).
    pub async fn check_out(&mut self, card: &str, attempt: Option<&str>) -> Page {
        let attempt = match attempt {
            Some(attempt) => attempt.to_owned(),
            None => self.get("/checkout").await.input("attempt").unwrap(),
        };
        let fields = checkout_fields(card);
        let mut form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        form.push(("attempt", &attempt));
        self.post("/checkout", &form).await
    }
}
