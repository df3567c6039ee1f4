//! The storefront: the shop a person clicks through, as server-rendered pages on port 8000.
//!
//! It is an edge like the gateway: it keeps nothing durable (the shopper's session travels in
//! an encrypted, signed cookie, `session`), and calls the services through their `*-api` clients
//! and the chassis client, so every call has a deadline, a breaker and discovery. What a page
//! can do without (stock, recommendations, the cart's shipping quote) is optional and capped (`settings`); a page whose
//! essential dependency fails says so in a sentence with a way forward, never a 500 or a hang.
//!
//! - `pages`: one module per page or flow, each with its askama templates (`templates/`);
//! - `session`, `form`: the cookie session, and forms checked against its CSRF token;
//! - `security`: the response headers every page carries;
//! - `assets`, `images`: htmx and the style sheet, and the generated product images;
//! - `money`, `layout`, `failure`: what every page shares;
//! - `currency`: prices in the shopper's currency, converted locally from the currency service's
//!   table of rates (fetched once per page at most, kept briefly), with the header's picker.
//!
//! **Architecture invariant:** like the gateway, the storefront depends on services' contracts
//! (`*-api`), never on their implementations.

mod assets;
mod currency;
mod failure;
mod form;
mod images;
mod layout;
mod money;
mod pages;
mod security;
mod session;
mod settings;

use axum::routing::get;
use axum::Router;
use brigade_chassis::service::{Context, Dependencies, Service};
use brigade_chassis::BoxError;
use cart_api::CartClient;
use catalog_api::CatalogClient;
use currency_api::CurrencyClient;
use inventory_api::InventoryClient;
use notifications_api::NotificationsClient;
use orders_api::OrdersClient;
use recommendations_api::RecommendationsClient;
use shipping_api::ShippingClient;
use users_api::UsersClient;

pub use images::svg_for;
pub use money::format_money;
pub use session::SESSION_COOKIE;
pub use settings::{CookieKey, Settings};

/// The storefront's well-known port.
pub const DEFAULT_PORT: u16 = 8000;

/// What the pages share: a client per service they call.
#[derive(Debug, Clone)]
pub struct Storefront {
    pub catalog: CatalogClient,
    pub users: UsersClient,
    pub cart: CartClient,
    pub orders: OrdersClient,
    /// The shopper's messages.
    pub notifications: NotificationsClient,
    /// Optional (the product page's stock), capped by `--inventory-timeout`.
    pub inventory: InventoryClient,
    /// Optional (home's popular products, the product page's "bought together"), capped by
    /// `--recommendations-timeout`.
    pub recommendations: RecommendationsClient,
    /// Optional on the cart page (a quote for a chosen country), capped by
    /// [`QUOTE_TIMEOUT`]; orders asks it at checkout.
    pub shipping: ShippingClient,
    /// Optional (prices in the shopper's currency), capped by [`currency::RATES_TIMEOUT`];
    /// orders converts at checkout.
    pub rates: currency::Rates,
    /// Log-in and sign-up per address and account, checkout per shopper (`--rate-limit-*`).
    pub limits: brigade_chassis::ratelimit::EdgeLimits,
}

/// The longest the cart page waits for a shipping quote; past it the page says the cost is
/// shown at checkout.
pub const QUOTE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// The storefront's routes around `shop`, with sessions sealed by `sessions`.
pub fn router(shop: Storefront, sessions: session::Sessions) -> Router {
    let pages = pages::router()
        .with_state(shop)
        .layer(axum::middleware::from_fn_with_state(
            sessions,
            session::keep_session,
        ));
    let files = Router::new()
        .route("/assets/{name}", get(assets::serve))
        .route("/images/{category}/{file}", get(images::serve));
    security::headers(pages.merge(files))
}

/// The storefront, to the chassis: `brigade_chassis::service::main::<StorefrontService>()`.
#[derive(Debug)]
pub struct StorefrontService;

impl Service for StorefrontService {
    type Args = Settings;
    const DEFAULT_PORT: u16 = DEFAULT_PORT;
    brigade_chassis::service_identity!("storefront", "Brigade's shop: server-rendered pages");
    const DEPENDS_ON: Dependencies = Dependencies {
        calls: &[
            "catalog",
            "users",
            "cart",
            "orders",
            "notifications",
            "inventory",
            "recommendations",
            "shipping",
            "currency",
        ],
        ..Dependencies::NONE
    };

    async fn build(ctx: Context, settings: Settings) -> Result<Router, BoxError> {
        // A shopper reads the chassis' refusals (overloaded, too slow) as the shop's own page.
        ctx.render_problems(failure::problem_page());
        let client = |service: &str| ctx.client(service);
        // The optional parts are capped: a page waits for them only briefly.
        let capped = |service: &str, cap| ctx.client(service).map(|c| c.with_timeout(cap));
        let shop = Storefront {
            // Products never change: a product page asks the catalog once per product.
            catalog: CatalogClient::new(client("catalog")?).keeping_products(),
            users: UsersClient::new(client("users")?),
            cart: CartClient::new(client("cart")?),
            orders: OrdersClient::new(client("orders")?),
            notifications: NotificationsClient::new(client("notifications")?),
            inventory: InventoryClient::new(capped("inventory", settings.inventory_timeout)?),
            recommendations: RecommendationsClient::new(capped(
                "recommendations",
                settings.recommendations_timeout,
            )?),
            shipping: ShippingClient::new(capped("shipping", QUOTE_TIMEOUT)?),
            rates: currency::Rates::new(
                CurrencyClient::new(capped("currency", currency::RATES_TIMEOUT)?),
                settings.currency_rates_ttl,
            ),
            limits: brigade_chassis::ratelimit::EdgeLimits::new(&settings.limits, ctx.metrics()),
        };
        Ok(router(shop, settings.sessions()))
    }
}
