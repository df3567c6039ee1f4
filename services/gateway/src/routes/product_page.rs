//! `/api/v1/products/{id}/page`: everything a product page shows, in one answer.
//!
//! The product is required: it is asked of the catalog once, then kept (a product never
//! changes: `CatalogClient::keeping_products`), so a page costs two hops, not three, and a
//! product once shown keeps its page while the catalog is away. Without the catalog a product
//! not read before has no page (its 404 passes through, its unavailability is the usual 503).
//! Its stock (inventory) and recommendations are optional:
//! when a dependency is down, slow or failing, the page is answered without that part, says so
//! in `degraded`, and logs why once. Each optional call is capped (`PartTimeouts`), and its
//! breaker, once open, makes it fail at once, so a missing part never makes the page fail and
//! never makes it wait past the cap.

use std::fmt;

use axum::extract::State;
use brigade_chassis::client::{Availability, Error as ClientError};
use brigade_chassis::extract::{Json, PathUuid, Query};
use brigade_chassis::Problem;
use catalog_api::paths::ProductId;
use catalog_api::Product;
use inventory_api::StockLevels;
use recommendations_api::{Recommendation, Recommendations, RecommendationsQuery};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::recommendations;
use crate::Gateway;

pub fn router() -> OpenApiRouter<Gateway> {
    OpenApiRouter::new().routes(routes!(product_page))
}

/// The answer: the product, its stock, what to show with it, and which parts are missing.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductView {
    pub product: Product,
    pub availability: StockView,
    pub recommendations: RecommendationsView,
    /// The optional parts the page is answered without (empty when complete), so that a
    /// storefront can show the page and say what is missing.
    pub degraded: Vec<PagePart>,
}

/// An optional part of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PagePart {
    Availability,
    Recommendations,
}

impl fmt::Display for PagePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PagePart::Availability => "availability",
            PagePart::Recommendations => "recommendations",
        })
    }
}

/// Whether the product can be bought now.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockView {
    pub status: StockStatus,
    /// Units that can be bought now; `None` (null) when `unknown`.
    pub available: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StockStatus {
    InStock,
    OutOfStock,
    /// The inventory could not say.
    Unknown,
}

impl StockView {
    /// The product's stock from the inventory's answer. A SKU the inventory does not stock has
    /// nothing to sell: out of stock, not unknown (the inventory did answer).
    fn of(sku: &str, levels: &StockLevels) -> StockView {
        let available = levels
            .items
            .iter()
            .find(|level| level.sku == sku)
            .map_or(0, |level| level.available);
        let status = if available > 0 {
            StockStatus::InStock
        } else {
            StockStatus::OutOfStock
        };
        StockView {
            status,
            available: Some(available),
        }
    }

    fn unknown() -> StockView {
        StockView {
            status: StockStatus::Unknown,
            available: None,
        }
    }
}

/// The products to show with this one, or none and a status saying they are unavailable.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecommendationsView {
    pub status: PartStatus,
    /// Best first; empty when unavailable.
    pub items: Vec<Recommendation>,
    /// As the recommendations service says (every item is a popular one); absent when
    /// unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartStatus {
    Available,
    Unavailable,
}

impl RecommendationsView {
    fn of(answer: Option<Recommendations>) -> RecommendationsView {
        match answer {
            Some(answer) => RecommendationsView {
                status: PartStatus::Available,
                items: answer.items,
                fallback: Some(answer.fallback),
            },
            None => RecommendationsView {
                status: PartStatus::Unavailable,
                items: Vec::new(),
                fallback: None,
            },
        }
    }
}

/// A product page: the product, its stock and what to show with it.
///
/// Needs no token. `?limit=` is the recommendations' limit, with the same rules as
/// `/products/{id}/recommendations`.
#[utoipa::path(
    get,
    path = "/products/{id}/page",
    operation_id = "productPage",
    params(("id" = Uuid, Path, description = "A product id."), RecommendationsQuery),
    responses(
        (status = 200, description = "The product page; `degraded` names the optional parts \
            it lacks", body = ProductView),
        (status = 404, description = "not-found: there is no product with this id",
            body = Problem),
    ),
)]
async fn product_page(
    State(gateway): State<Gateway>,
    PathUuid(product_id, _): PathUuid<ProductId>,
    Query(query): Query<RecommendationsQuery>,
) -> Result<Json<ProductView>, Problem> {
    let limit = query.validate()?;
    // Recommendations need only the id: asked at once, alongside the catalog and then the
    // inventory. `try_join!` drops them as soon as the catalog fails: a 404 does not wait.
    let shown_with =
        async { Ok::<_, Problem>(recommendations::of_product(&gateway, product_id, limit).await) };
    let product_and_stock = async {
        let product = gateway.catalog.get_product(product_id).await?;
        let skus = std::slice::from_ref(&product.sku);
        let stock = Availability::of(gateway.inventory.stock(skus).await);
        Ok((product, stock))
    };
    let ((product, stock), shown_with) = tokio::try_join!(product_and_stock, shown_with)?;

    let mut missing = MissingParts::default();
    let availability = missing
        .keep(PagePart::Availability, stock)
        .map_or_else(StockView::unknown, |levels| {
            StockView::of(&product.sku, &levels)
        });
    let recommendations =
        RecommendationsView::of(missing.keep(PagePart::Recommendations, shown_with));
    missing.log(product_id);
    Ok(Json(ProductView {
        product,
        availability,
        recommendations,
        degraded: missing.parts,
    }))
}

/// The parts a page is answered without, and why, for one log line per page.
#[derive(Debug, Default)]
struct MissingParts {
    parts: Vec<PagePart>,
    causes: Vec<String>,
}

impl MissingParts {
    /// The part's answer, or `None` with the part noted as missing. A 4xx from an optional
    /// dependency (the gateway's own mistake: its input is checked first) is missing too: the
    /// page must not fail for a part it can do without.
    fn keep<T>(
        &mut self,
        part: PagePart,
        sorted: Result<Availability<T>, ClientError>,
    ) -> Option<T> {
        match sorted {
            Ok(Availability::Available(value)) => Some(value),
            Ok(Availability::Unavailable(cause)) | Err(cause) => {
                self.parts.push(part);
                self.causes.push(format!("{part}: {cause}"));
                None
            }
        }
    }

    fn log(&self, product_id: Uuid) {
        if !self.parts.is_empty() {
            tracing::warn!(
                %product_id,
                missing = ?self.parts,
                causes = %self.causes.join("; "),
                "product page answered without some of its parts"
            );
        }
    }
}
