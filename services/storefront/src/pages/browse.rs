//! `/categories/{slug}` and `/search`: one page of products, with paging and sort. Bad paging
//! or sort in the address is said above the list, which then shows the first page.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use catalog_api::{ListProducts, ProductPage, Sort};
use serde::Deserialize;

use super::ProductCard;
use crate::currency::Prices;
use crate::layout::Layout;
use crate::session::SessionHandle;
use crate::{failure, Storefront};

const PAGE_SIZE: u32 = 24;

/// The query string as typed: every value a string, read leniently.
#[derive(Debug, Default, Deserialize)]
struct Listing {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: String,
    #[serde(default)]
    sort: String,
}

/// A sort the shopper can choose.
struct SortChoice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "listing.html")]
struct ListingPage {
    layout: Layout,
    heading: String,
    intro: String,
    /// Where the sort form and the pager lead (the page's own path).
    action: String,
    query: String,
    sorts: Vec<SortChoice>,
    cards: Vec<ProductCard>,
    total: u64,
    page: u32,
    pages: u64,
    previous: Option<String>,
    next: Option<String>,
    problem: Option<String>,
}

/// What the address asked for, checked: the page, the sort and the problems found.
struct Asked {
    page: u32,
    sort: Option<Sort>,
    problem: Option<String>,
}

impl Asked {
    /// The catalog's query for the page and sort asked, with no filter.
    fn listing(&self) -> ListProducts {
        ListProducts {
            page: Some(self.page),
            page_size: Some(PAGE_SIZE),
            sort: self.sort,
            ..ListProducts::default()
        }
    }
}

fn read(raw: Option<String>) -> (Listing, Asked) {
    let listing: Listing =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or_default()).unwrap_or_default();
    let mut problem = None;
    let page = match listing.page.trim() {
        "" => 1,
        text => text
            .parse::<u32>()
            .ok()
            .filter(|p| *p >= 1)
            .unwrap_or_else(|| {
                problem = Some(format!(
                    "“{text}” is not a page number; showing the first page."
                ));
                1
            }),
    };
    let sort = match listing.sort.as_str() {
        "" => None,
        text => Sort::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .or_else(|| {
                problem = Some("That sort order is unknown; showing the default order.".to_owned());
                None
            }),
    };
    (
        listing,
        Asked {
            page,
            sort,
            problem,
        },
    )
}

pub async fn category(
    State(shop): State<Storefront>,
    session: SessionHandle,
    Path(slug): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (_, asked) = read(raw.clone());
    let categories = match shop.catalog.categories().await {
        Ok(categories) => categories,
        Err(error) => return failure::dependency(&session, "The catalog", &error),
    };
    let Some(category) = categories.items.into_iter().find(|c| c.slug == slug) else {
        return failure::not_found(&session, "category");
    };
    let query = ListProducts {
        category: Some(slug.clone()),
        ..asked.listing()
    };
    let found = match shop.catalog.list_products(&query).await {
        Ok(found) => found,
        Err(error) => return failure::dependency(&session, "The catalog", &error),
    };
    let action = format!("/categories/{slug}");
    let prices = Prices::of(&shop, &session, &back(&action, raw.as_deref())).await;
    let layout = Layout::new(&session, category.name.clone()).priced(&prices);
    render(
        layout,
        category.name,
        category.description,
        action,
        "",
        asked,
        (found, &prices),
    )
}

pub async fn search(
    State(shop): State<Storefront>,
    session: SessionHandle,
    RawQuery(raw): RawQuery,
) -> Response {
    let (listing, mut asked) = read(raw.clone());
    let text = listing.q.trim().to_owned();
    let query = ListProducts {
        q: Some(text.clone()),
        ..asked.listing()
    };
    if let Err(rule) = query.validate() {
        asked.problem = Some(crate::form::sentence(&rule.detail));
        let layout = Layout::new(&session, "Search").searching(&text);
        let prices = Prices::as_recorded();
        let none = ProductPage {
            items: Vec::new(),
            page: 1,
            page_size: PAGE_SIZE,
            total: 0,
        };
        let page = render(
            layout,
            "Search".into(),
            String::new(),
            "/search".into(),
            "",
            asked,
            (none, &prices),
        );
        return (StatusCode::BAD_REQUEST, page).into_response();
    }
    let found = match shop.catalog.list_products(&query).await {
        Ok(found) => found,
        Err(error) => return failure::dependency(&session, "Search", &error),
    };
    let heading = if text.is_empty() {
        "All products".to_owned()
    } else {
        format!("Results for “{text}”")
    };
    let prices = Prices::of(&shop, &session, &back("/search", raw.as_deref())).await;
    let layout = Layout::new(&session, heading.clone())
        .searching(&text)
        .priced(&prices);
    render(
        layout,
        heading,
        String::new(),
        "/search".into(),
        &text,
        asked,
        (found, &prices),
    )
}

/// A listing's own address, for the currency picker to come back to.
fn back(action: &str, raw: Option<&str>) -> String {
    match raw {
        Some(query) if !query.is_empty() => format!("{action}?{query}"),
        _ => action.to_owned(),
    }
}

/// The listing page of `found` (the products, and how their prices are shown).
fn render(
    layout: Layout,
    heading: String,
    intro: String,
    action: String,
    query: &str,
    asked: Asked,
    (found, prices): (ProductPage, &Prices),
) -> Response {
    let pages = found.total.div_ceil(u64::from(found.page_size.max(1)));
    let href = |page: u32| {
        let mut pairs = vec![("page", page.to_string())];
        if !query.is_empty() {
            pairs.push(("q", query.to_owned()));
        }
        if let Some(sort) = asked.sort {
            pairs.push(("sort", sort.as_str().to_owned()));
        }
        format!(
            "{action}?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        )
    };
    let chosen = asked.sort;
    ListingPage {
        layout,
        heading,
        intro,
        previous: (found.page > 1).then(|| href(found.page - 1)),
        next: (u64::from(found.page) < pages).then(|| href(found.page + 1)),
        action: action.clone(),
        query: query.to_owned(),
        sorts: sort_choices(chosen, !query.is_empty()),
        cards: found
            .items
            .iter()
            .map(|p| ProductCard::of(p, prices))
            .collect(),
        total: found.total,
        page: found.page,
        pages,
        problem: asked.problem,
    }
    .into_response()
}

fn sort_choices(chosen: Option<Sort>, searching: bool) -> Vec<SortChoice> {
    let label = |sort: Sort| match sort {
        Sort::Relevance => "Best match",
        Sort::Name => "Name",
        Sort::PriceAsc => "Price, low to high",
        Sort::PriceDesc => "Price, high to low",
        Sort::Newest => "Newest",
    };
    Sort::ALL
        .into_iter()
        .filter(|sort| searching || *sort != Sort::Relevance)
        .map(|sort| SortChoice {
            value: sort.as_str(),
            label: label(sort),
            selected: chosen == Some(sort),
        })
        .collect()
}
