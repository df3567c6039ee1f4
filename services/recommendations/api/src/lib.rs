//! The recommendations service's contract: products to show next to a product ("bought
//! together") and to a user ("for you"), from a co-purchase and popularity model that the service
//! builds from orders' and the catalog's events. Callers (the gateway, the storefront) depend on
//! this crate, never on the server.
//!
//! - [`Recommendations`], [`Recommendation`], [`Reason`]: what goes over the wire;
//! - [`RecommendationsQuery::validate`]: the input rules, shared so that an edge can refuse bad
//!   input with the service's own words before it costs a hop (a path's id is the chassis'
//!   `PathUuid`);
//! - [`problems`]: the problem codes callers answer with;
//! - [`RecommendationsClient`]: the typed client.
//!
//! Recommendations are optional everywhere: a caller must answer without them when the service
//! is down, slow or failing. The service itself never answers 404 for an id it does not know: a
//! product it never heard of may be new, and a user who never bought anything still gets the
//! popular products.

#![forbid(unsafe_code)]

mod client;
mod rules;
mod types;

pub use catalog_api::Money;
pub use client::RecommendationsClient;
pub use rules::{RecommendationsQuery, ValidationError, DEFAULT_LIMIT, MAX_LIMIT, MIN_LIMIT};
pub use types::{Reason, Recommendation, Recommendations};

/// The service's routes, shared by the server's router and the client so that they cannot drift.
pub mod paths {
    use uuid::Uuid;

    /// `GET`: products to show with one product (route pattern; [`crate::RecommendationsQuery`]
    /// as the query string).
    pub const PRODUCT_PATTERN: &str = "/v1/recommendations/products/{product_id}";
    /// `GET`: products to show to one user (route pattern; [`crate::RecommendationsQuery`] as the
    /// query string).
    pub const USER_PATTERN: &str = "/v1/recommendations/users/{user_id}";

    /// Recommendations for one product.
    pub fn product(product_id: Uuid) -> String {
        format!("/v1/recommendations/products/{product_id}")
    }

    /// Recommendations for one user.
    pub fn user(user_id: Uuid) -> String {
        format!("/v1/recommendations/users/{user_id}")
    }

    brigade_chassis::uuid_parameter!(
        /// The `product_id` of `PRODUCT_PATTERN`, read by the chassis' `PathUuid`.
        pub ProductId = "product_id", "a product id"
    );

    brigade_chassis::uuid_parameter!(
        /// The `user_id` of `USER_PATTERN`, read by the chassis' `PathUuid`.
        pub UserId = "user_id", "a user id"
    );
}

/// The problem codes (`urn:brigade:problem:<code>`) that go with recommendations, besides the
/// chassis' own.
pub mod problems {
    /// 503, answered by callers (the gateway) when the recommendations service could not be
    /// asked or failed: nothing else about the request was wrong, and everything else still
    /// works without recommendations.
    pub const RECOMMENDATIONS_UNAVAILABLE: &str = "recommendations-unavailable";
}
