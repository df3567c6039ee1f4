//! The gateway: Brigade's public JSON API under `/api/v1`.
//!
//! It owns no data. Each route validates its input at the edge with the same rules the owning
//! service applies (from that service's `*-api` crate), then calls the service through the
//! chassis client, so that the caller's deadline, trace and request id travel with the call.
//!
//! **Architecture invariant:** the gateway depends on services' contracts (`*-api`), never
//! on their implementations.

mod routes;
mod security;
mod timeouts;

use axum::Router;
use brigade_chassis::auth::Verifier;
use brigade_chassis::ratelimit::{EdgeLimits, RateLimitArgs};
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

pub use timeouts::PartTimeouts;

/// The gateway's well-known port.
pub const DEFAULT_PORT: u16 = 8080;

/// What the gateway's handlers share: a client per service it calls, and the verifier of
/// shoppers' access tokens (checked here, at the edge, and again by each service).
#[derive(Debug, Clone)]
pub struct Gateway {
    pub catalog: CatalogClient,
    pub users: UsersClient,
    pub cart: CartClient,
    pub orders: OrdersClient,
    /// The shopper's messages.
    pub notifications: NotificationsClient,
    /// Optional: the product page answers without it, the recommendation routes with a problem
    /// of their own (`routes::recommendations`). Its calls are capped
    /// ([`PartTimeouts::recommendations_timeout`]) on every route, so that the dependency has
    /// one breaker, opened by its slowness wherever it is felt.
    pub recommendations: RecommendationsClient,
    /// Optional, for the product page's stock only; capped
    /// ([`PartTimeouts::inventory_timeout`]).
    pub inventory: InventoryClient,
    /// For the shipping quote route (`routes::shipping`), which says when it is unavailable.
    pub shipping: ShippingClient,
    /// The currencies and conversion (`routes::currency`).
    pub currency: CurrencyClient,
    pub verifier: Verifier,
    /// Log-in and sign-up per address and account, checkout per shopper (`--rate-limit-*`).
    pub limits: EdgeLimits,
}

/// The gateway's own flags: the caps on its optional dependencies, and its rate limits.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct GatewayArgs {
    #[command(flatten)]
    pub parts: PartTimeouts,
    #[command(flatten)]
    pub limits: RateLimitArgs,
}

brigade_chassis::verifier_in_state!(Gateway, verifier);

/// The public routes, with the security headers on every answer.
pub fn router(gateway: Gateway) -> Router {
    security::headers(
        Router::new()
            .nest("/api/v1", routes::router())
            .with_state(gateway),
    )
}

/// The gateway, to the chassis: `brigade_chassis::service::main::<GatewayService>()`.
#[derive(Debug)]
pub struct GatewayService;

impl Service for GatewayService {
    brigade_chassis::service_identity!("gateway", "Brigade's public JSON API under /api/v1");
    const DEPENDS_ON: Dependencies = Dependencies {
        calls: &[
            "catalog",
            "users",
            "cart",
            "orders",
            "notifications",
            "recommendations",
            "inventory",
            "shipping",
            "currency",
        ],
        ..Dependencies::NONE
    };
    const DEFAULT_PORT: u16 = DEFAULT_PORT;
    type Args = GatewayArgs;

    /// The gateway's routes with a client for each service it calls, the optional ones capped
    /// at `parts`, and its rate limits.
    async fn build(ctx: Context, args: GatewayArgs) -> Result<Router, BoxError> {
        let GatewayArgs { parts, limits } = args;
        Ok(router(Gateway {
            // Products never change: a product page asks the catalog once per product.
            catalog: CatalogClient::new(ctx.client("catalog")?).keeping_products(),
            users: UsersClient::new(ctx.client("users")?),
            cart: CartClient::new(ctx.client("cart")?),
            orders: OrdersClient::new(ctx.client("orders")?),
            notifications: NotificationsClient::new(ctx.client("notifications")?),
            recommendations: RecommendationsClient::new(
                ctx.client("recommendations")?
                    .with_timeout(parts.recommendations_timeout),
            ),
            inventory: InventoryClient::new(
                ctx.client("inventory")?
                    .with_timeout(parts.inventory_timeout),
            ),
            shipping: ShippingClient::new(ctx.client("shipping")?),
            currency: CurrencyClient::new(ctx.client("currency")?),
            verifier: ctx.verifier()?,
            limits: EdgeLimits::new(&limits, ctx.metrics()),
        }))
    }
}
