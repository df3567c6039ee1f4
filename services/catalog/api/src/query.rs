//! The rules a request must follow, shared by the catalog and by edges that check early.
//!
//! [`ListProducts`] is the query string as sent; [`ListProducts::validate`] turns it into a
//! [`ProductQuery`], which can only exist when every rule holds and has every default applied,
//! so the server never re-checks or guesses.

use serde::{Deserialize, Serialize};

use crate::types::ProductsByIds;
use brigade_chassis::problem::quoted;
use brigade_chassis::validation::Page;
pub use brigade_chassis::validation::{ValidationError, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// The longest search text, in characters: longer text is not a search but a mistake or an
/// attack on the full-text index.
pub const MAX_QUERY_CHARS: usize = 200;
/// The longest category slug.
pub const MAX_SLUG_CHARS: usize = 64;
/// The most ids one batch request may name.
pub const MAX_BATCH_IDS: usize = 100;

/// How a listing is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Best full-text match first; only meaningful with a search text, ordered by name without.
    Relevance,
    Name,
    PriceAsc,
    PriceDesc,
    Newest,
}

impl Sort {
    pub const ALL: [Sort; 5] = [
        Sort::Relevance,
        Sort::Name,
        Sort::PriceAsc,
        Sort::PriceDesc,
        Sort::Newest,
    ];

    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Relevance => "relevance",
            Sort::Name => "name",
            Sort::PriceAsc => "price_asc",
            Sort::PriceDesc => "price_desc",
            Sort::Newest => "newest",
        }
    }
}

impl std::fmt::Display for Sort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `GET /v1/products` query string. Unknown parameter names are refused rather than ignored, so
/// that a misspelt filter (`categroy=`) is an error instead of a silently unfiltered listing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListProducts {
    /// A category slug from /v1/categories; empty means every category. A well-formed slug
    /// that names no category is a 400 whose `categories` member lists the known ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(pattern = "^[a-z0-9-]{0,64}$")]
    pub category: Option<String>,
    /// Full-text search over names, descriptions and tags; empty means no search. At most 200
    /// characters once trimmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// 1-based page number (default 1). A page past the end is empty, with the real total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<u64>, minimum = 1, maximum = 4_294_967_295_u32)]
    pub page: Option<u32>,
    /// Products per page, 1 to 100 (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<u64>, minimum = 1, maximum = 100)]
    pub page_size: Option<u32>,
    /// Default: relevance when `q` is given, else name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub sort: Option<Sort>,
}

/// A listing request that follows every rule, with its defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductQuery {
    category: Option<String>,
    text: Option<String>,
    page: u32,
    page_size: u32,
    sort: Sort,
}

impl ProductQuery {
    /// The category slug to filter by, if any. Its shape is checked; whether it exists is the
    /// catalog's to say.
    pub fn category(&self) -> Option<&str> {
        self.category.as_deref()
    }

    /// The search text, trimmed and non-empty, if any.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// 1-based.
    pub fn page(&self) -> u32 {
        self.page
    }

    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// The effective order: never [`Sort::Relevance`] without a search text.
    pub fn sort(&self) -> Sort {
        self.sort
    }

    /// How many matching products come before this page.
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.page_size)
    }
}

impl ListProducts {
    /// Checks every rule and applies the defaults.
    pub fn validate(&self) -> Result<ProductQuery, ValidationError> {
        let Page { page, page_size } = Page::validate(self.page, self.page_size)?;
        let text = match self.q.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) if text.chars().count() > MAX_QUERY_CHARS => {
                return Err(ValidationError::new(
                    "q",
                    format!(
                        "q must be at most {MAX_QUERY_CHARS} characters, got {}",
                        text.chars().count()
                    ),
                ))
            }
            Some(text) => Some(text.to_owned()),
        };
        // An empty category comes from a form's "all categories" choice: no filter.
        let category = match self.category.as_deref() {
            None | Some("") => None,
            Some(slug) => Some(check_slug(slug)?.to_owned()),
        };
        let sort = match (self.sort, &text) {
            (None, Some(_)) => Sort::Relevance,
            (None | Some(Sort::Relevance), None) => Sort::Name,
            (Some(sort), _) => sort,
        };
        Ok(ProductQuery {
            category,
            text,
            page,
            page_size,
            sort,
        })
    }
}

fn check_slug(slug: &str) -> Result<&str, ValidationError> {
    let well_formed = slug.len() <= MAX_SLUG_CHARS
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if well_formed {
        Ok(slug)
    } else {
        Err(ValidationError::new(
            "category",
            format!(
                "unknown category {}: a category is a slug of lowercase letters, digits and hyphens \
                 (at most {MAX_SLUG_CHARS}), as listed by /v1/categories",
                quoted(slug)
            ),
        ))
    }
}

impl ProductsByIds {
    /// Checks the number of ids. Each id is a UUID by its type.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.ids.len() > MAX_BATCH_IDS {
            return Err(ValidationError::new(
                "ids",
                format!(
                    "at most {MAX_BATCH_IDS} ids may be asked for at once, got {}",
                    self.ids.len()
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(query: &str) -> ListProducts {
        serde_urlencoded::from_str(query).unwrap_or_else(|e| panic!("{query}: {e}"))
    }

    #[test]
    fn defaults_apply_when_nothing_is_given() {
        let query = list("").validate().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(query.page(), 1);
        assert_eq!(query.page_size(), DEFAULT_PAGE_SIZE);
        assert_eq!(query.sort(), Sort::Name);
        assert_eq!(query.category(), None);
        assert_eq!(query.text(), None);
        assert_eq!(query.offset(), 0);
    }

    #[test]
    fn sort_defaults_to_relevance_only_with_a_search() {
        let search = list("q=copper")
            .validate()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(search.sort(), Sort::Relevance);
        let no_search = list("sort=relevance&q=%20%20")
            .validate()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(no_search.sort(), Sort::Name);
        assert_eq!(no_search.text(), None);
        let explicit = list("q=copper&sort=price_desc")
            .validate()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(explicit.sort(), Sort::PriceDesc);
    }

    #[test]
    fn out_of_range_pages_are_refused_with_the_parameter_named() {
        for (query, parameter) in [
            ("page=0", "page"),
            ("page_size=0", "page_size"),
            ("page_size=101", "page_size"),
        ] {
            let error = list(query)
                .validate()
                .err()
                .unwrap_or_else(|| panic!("{query} passed"));
            assert_eq!(error.parameter, parameter, "{query}");
        }
        let error = list("page_size=1000").validate().err();
        assert_eq!(
            error.map(|e| e.detail),
            Some("page_size must be between 1 and 100, got 1000".to_owned())
        );
    }

    #[test]
    fn offset_counts_whole_pages_before_this_one() {
        let query = list("page=3&page_size=25")
            .validate()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(query.offset(), 50);
        let last = list("page=4294967295&page_size=100")
            .validate()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(last.offset(), 429_496_729_400);
    }

    #[test]
    fn search_text_is_limited_in_characters_not_bytes() {
        let accented = "é".repeat(MAX_QUERY_CHARS);
        let fits = ListProducts {
            q: Some(accented.clone()),
            ..ListProducts::default()
        };
        assert!(fits.validate().is_ok());
        let too_long = ListProducts {
            q: Some(format!("{accented}e")),
            ..ListProducts::default()
        };
        assert_eq!(
            too_long.validate().err().map(|e| e.parameter).as_deref(),
            Some("q")
        );
    }

    #[test]
    fn malformed_category_slugs_are_refused_but_empty_means_all() {
        assert_eq!(
            list("category=")
                .validate()
                .ok()
                .and_then(|q| q.category().map(str::to_owned)),
            None
        );
        for bad in ["Kitchen", "kitchen%20", "a%2Fb", &"x".repeat(65)] {
            let error = list(&format!("category={bad}")).validate().err();
            assert_eq!(
                error.as_ref().map(|e| e.parameter.as_str()),
                Some("category"),
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_parameters_and_sorts_do_not_parse() {
        assert!(serde_urlencoded::from_str::<ListProducts>("foo=1").is_err());
        assert!(serde_urlencoded::from_str::<ListProducts>("sort=cheapest").is_err());
    }

    #[test]
    fn the_query_string_round_trips_without_empty_fields() {
        let query = ListProducts {
            category: Some("kitchen".into()),
            sort: Some(Sort::PriceAsc),
            ..ListProducts::default()
        };
        let encoded = serde_urlencoded::to_string(&query).unwrap_or_default();
        assert_eq!(encoded, "category=kitchen&sort=price_asc");
        assert_eq!(list(&encoded), query);
    }

    #[test]
    fn batches_are_limited() {
        let ids = |n| ProductsByIds {
            ids: (0..n).map(uuid::Uuid::from_u128).collect(),
        };
        assert!(ids(MAX_BATCH_IDS as u128).validate().is_ok());
        assert_eq!(
            ids(MAX_BATCH_IDS as u128 + 1)
                .validate()
                .err()
                .map(|e| e.parameter)
                .as_deref(),
            Some("ids")
        );
    }
}
