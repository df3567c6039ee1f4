//! `/`: the categories, the newest products, and the popular ones (from recommendations,
//! optional: without it the section is left out).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use brigade_chassis::client::Availability;
use catalog_api::{Category, ListProducts, Sort};
use uuid::Uuid;

use super::ProductCard;
use crate::layout::Layout;
use crate::session::SessionHandle;
use crate::{failure, Storefront};

const FEATURED: u32 = 8;
const POPULAR: u32 = 8;

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    categories: Vec<Category>,
    featured: Vec<ProductCard>,
    /// `None` when recommendations could not be asked.
    popular: Option<Vec<ProductCard>>,
}

pub async fn show(State(shop): State<Storefront>, session: SessionHandle) -> Response {
    let newest = ListProducts {
        page_size: Some(FEATURED),
        sort: Some(Sort::Newest),
        ..ListProducts::default()
    };
    // A shopper who never bought anything, or nobody signed in, gets the popular products.
    let user = session.shopper().map_or(Uuid::nil(), |s| s.user_id);
    let (categories, featured, popular) = tokio::join!(
        shop.catalog.categories(),
        shop.catalog.list_products(&newest),
        shop.recommendations.for_user(user, POPULAR),
    );
    let (categories, featured) = match (categories, featured) {
        (Ok(categories), Ok(featured)) => (categories, featured),
        (Err(error), _) | (_, Err(error)) => {
            return failure::dependency(&session, "The catalog", &error)
        }
    };
    let popular = match Availability::of(popular) {
        Ok(Availability::Available(answer)) => Some(
            answer
                .items
                .iter()
                .map(ProductCard::recommended)
                .collect::<Vec<_>>(),
        ),
        Ok(Availability::Unavailable(error)) | Err(error) => {
            tracing::warn!(%error, "home page without popular products");
            None
        }
    };
    HomePage {
        layout: Layout::new(&session, "Home"),
        categories: categories.items,
        featured: featured.items.iter().map(ProductCard::of).collect(),
        popular: popular.filter(|items| !items.is_empty()),
    }
    .into_response()
}
