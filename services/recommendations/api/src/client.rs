//! The typed client other services use to call the recommendations service, through the chassis
//! client (so every call gets discovery, balancing, deadlines and tracing).

use brigade_chassis::client::{Error as ClientError, ServiceClient};
use uuid::Uuid;

use crate::paths;
use crate::types::Recommendations;

/// Calls the recommendations service. Cheap to clone.
///
/// Recommendations are optional: a caller should answer without them when a call fails, and
/// should give the call a short deadline of its own so that a slow service cannot make its page
/// slow.
#[derive(Debug, Clone)]
pub struct RecommendationsClient {
    inner: ServiceClient,
}

impl RecommendationsClient {
    /// `inner` is a chassis client bound to the recommendations service
    /// (`ctx.client("recommendations")`).
    pub fn new(inner: ServiceClient) -> RecommendationsClient {
        RecommendationsClient { inner }
    }

    /// Up to `limit` products to show with `product_id` ([`crate::MIN_LIMIT`] to
    /// [`crate::MAX_LIMIT`]: check with [`crate::RecommendationsQuery::validate`] first to refuse
    /// other limits without the hop).
    pub async fn for_product(
        &self,
        product_id: Uuid,
        limit: u32,
    ) -> Result<Recommendations, ClientError> {
        self.inner
            .get_json(&format!("{}?limit={limit}", paths::product(product_id)))
            .await
    }

    /// Up to `limit` products to show to `user_id`, none of which the user bought before.
    pub async fn for_user(
        &self,
        user_id: Uuid,
        limit: u32,
    ) -> Result<Recommendations, ClientError> {
        self.inner
            .get_json(&format!("{}?limit={limit}", paths::user(user_id)))
            .await
    }
}
