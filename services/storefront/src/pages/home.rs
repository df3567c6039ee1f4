//! `/`: the categories, the newest products, and the popular ones (from recommendations,
//! optional: without it the section is left out).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use catalog_api::{Category, ListProducts, Sort};
use uuid::Uuid;

use super::{ProductCard, Shelf};
use crate::currency::Prices;
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
    /// New products, then popular ones (left out when recommendations could not be asked).
    shelves: Vec<Shelf>,
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
    let prices = Prices::of(&shop, &session, "/").await;
    let mut shelves = vec![Shelf {
        id: "new",
        heading: "New in",
        cards: featured
            .items
            .iter()
            .map(|p| ProductCard::of(p, &prices))
            .collect(),
    }];
    if let Some(popular) = super::optional_recommendations(popular, "home") {
        shelves.push(Shelf {
            id: "popular",
            heading: "Popular right now",
            cards: popular
                .items
                .iter()
                .map(|r| ProductCard::recommended(r, &prices))
                .collect(),
        });
    }
    HomePage {
        layout: Layout::new(&session, "Home").priced(&prices),
        categories: categories.items,
        shelves: shelves
            .into_iter()
            .filter(|s| !s.cards.is_empty())
            .collect(),
    }
    .into_response()
}
