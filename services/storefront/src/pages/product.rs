//! `/products/{id}`: the product, its price, its availability and what was bought with it.
//!
//! The catalog is required, asked once per product (`CatalogClient::keeping_products`: a
//! product never changes), so a product already shown keeps its page while the catalog is
//! down. Stock and recommendations are optional and capped: inventory down
//! or slow → "availability unknown"; recommendations down or slow → no "bought together"
//! section. Neither makes the page fail or wait past its cap.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use brigade_chassis::client::Availability;
use catalog_api::Product;
use recommendations_api::DEFAULT_LIMIT;

use super::{ProductCard, Shelf};
use crate::currency::Prices;
use crate::layout::Layout;
use crate::session::SessionHandle;
use crate::{failure, Storefront};

/// Whether the product can be bought now, as the page says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stock {
    In(u64),
    Out,
    Unknown,
}

#[derive(Template, WebTemplate)]
#[template(path = "product.html")]
struct ProductPage {
    layout: Layout,
    product: Product,
    price: String,
    stock: Stock,
    /// What to show with it: bought together, or popular products.
    together: Option<Shelf>,
    /// The add-to-cart form: the quantity typed and its problem.
    quantity: String,
    problem: Option<String>,
}

pub async fn show(
    State(shop): State<Storefront>,
    session: SessionHandle,
    Path(id): Path<String>,
) -> Response {
    page(&shop, &session, &id, "1", None).await
}

/// The page, with the add-to-cart form showing `quantity` and its `problem`, if any.
pub async fn page(
    shop: &Storefront,
    session: &SessionHandle,
    id: &str,
    quantity: &str,
    problem: Option<(StatusCode, String)>,
) -> Response {
    let Some(id) = super::parse_id(id) else {
        return failure::not_found(session, "product");
    };
    // Recommendations need only the id: asked at once, beside the catalog then inventory.
    let together = shop.recommendations.for_product(id, DEFAULT_LIMIT);
    let product_and_stock = async {
        let product = shop.catalog.get_product(id).await?;
        let stock = shop
            .inventory
            .stock(std::slice::from_ref(&product.sku))
            .await;
        Ok::<_, brigade_chassis::client::Error>((product, stock))
    };
    let (found, together) = tokio::join!(product_and_stock, together);
    let (product, stock) = match found {
        Ok(found) => found,
        Err(error) if error.is_not_found() => return failure::not_found(session, "product"),
        Err(error) => return failure::dependency(session, "The catalog", &error),
    };
    let stock = match Availability::of(stock) {
        Ok(Availability::Available(levels)) => {
            let level = levels.items.iter().find(|l| l.sku == product.sku);
            match level.map_or(0, |l| l.available) {
                0 => Stock::Out,
                units => Stock::In(units),
            }
        }
        Ok(Availability::Unavailable(error)) | Err(error) => {
            tracing::warn!(%error, "product page without availability");
            Stock::Unknown
        }
    };
    let prices = Prices::of(shop, session, &format!("/products/{id}")).await;
    let together = super::optional_recommendations(together, "product")
        .filter(|answer| !answer.items.is_empty())
        .map(|answer| Shelf {
            id: "together",
            // Never bought with anything: the service filled the list with popular products.
            heading: if answer.fallback {
                "Popular right now"
            } else {
                "Bought together"
            },
            cards: answer
                .items
                .iter()
                .map(|r| ProductCard::recommended(r, &prices))
                .collect(),
        });
    let (status, problem) = match problem {
        Some((status, problem)) => (status, Some(problem)),
        None => (StatusCode::OK, None),
    };
    let page = ProductPage {
        layout: Layout::new(session, product.name.clone()).priced(&prices),
        price: prices.show(&product.price),
        product,
        stock,
        together,
        quantity: quantity.to_owned(),
        problem,
    };
    (status, page).into_response()
}
