//! The rules every contract shares: how a broken rule is told, and how lists are paged.
//!
//! A contract (`*-api`) crate checks its requests with these, so that the caller and the service
//! refuse the same input with the same words, and every service pages alike.

use crate::problem::Problem;

/// The most items one page of a listing holds.
pub const MAX_PAGE_SIZE: u32 = 100;

/// The items on a page when the request does not say.
pub const DEFAULT_PAGE_SIZE: u32 = 20;

/// One input that breaks a rule: which parameter, and a sentence saying what is wrong and what
/// is accepted. It becomes a `400 invalid-parameter` problem naming the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {parameter}: {detail}")]
pub struct ValidationError {
    /// The parameter's name, with a path into the body where needed (`lines[2].quantity`).
    pub parameter: String,
    pub detail: String,
}

impl ValidationError {
    pub fn new(parameter: impl Into<String>, detail: impl Into<String>) -> ValidationError {
        ValidationError {
            parameter: parameter.into(),
            detail: detail.into(),
        }
    }
}

impl From<ValidationError> for Problem {
    fn from(e: ValidationError) -> Self {
        Problem::invalid_parameter(&e.parameter, e.detail)
    }
}

/// What a UUID path parameter is: its name in the route and what it identifies, so that the
/// problem refusing a segment that is not a UUID names the parameter as the route and its
/// OpenAPI document do. Declared, usually in the contract crate next to the route, with
/// [`uuid_parameter!`](crate::uuid_parameter); read by `extract::PathUuid`.
pub trait UuidParameter: Default {
    /// The parameter's name in the route pattern (`order_id` in `/v1/reservations/{order_id}`).
    const NAME: &'static str;
    /// What the id identifies, with its article (`an order id`).
    const NOUN: &'static str;
}

/// Declares a [`UuidParameter`]: a unit type naming one path parameter of a route.
///
/// ```ignore
/// // In the contract crate's `paths`:
/// brigade_chassis::uuid_parameter!(pub OrderId = "order_id", "an order id");
/// // In a handler of a route `/v1/reservations/{order_id}`:
/// async fn one(PathUuid(order_id, _): PathUuid<paths::OrderId>) { /* order_id: Uuid */ }
/// ```
#[macro_export]
macro_rules! uuid_parameter {
    ($(#[$meta:meta])* $vis:vis $marker:ident = $name:literal, $noun:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default)]
        $vis struct $marker;

        impl $crate::validation::UuidParameter for $marker {
            const NAME: &'static str = $name;
            const NOUN: &'static str = $noun;
        }
    };
}

/// The size of a page of a listing, as the query parameter `parameter` gives it or not: 1 to
/// `max`, `default` when not given. Numbered pages (`page_size`) and cursor pages (`limit`) are
/// sized by this one rule, so that every listing refuses a size with the same words.
pub fn check_page_size(
    parameter: &str,
    given: Option<u32>,
    default: u32,
    max: u32,
) -> Result<u32, ValidationError> {
    match given {
        None => Ok(default),
        Some(size) if (1..=max).contains(&size) => Ok(size),
        Some(size) => Err(ValidationError::new(
            parameter,
            format!("{parameter} must be between 1 and {max}, got {size}"),
        )),
    }
}

/// A page of a listing that follows the rules, with the defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based.
    pub page: u32,
    /// 1 to [`MAX_PAGE_SIZE`].
    pub page_size: u32,
}

impl Page {
    /// Checks the query parameters `page` (1 or more, default 1) and `page_size` (1 to
    /// [`MAX_PAGE_SIZE`], default [`DEFAULT_PAGE_SIZE`]).
    pub fn validate(page: Option<u32>, page_size: Option<u32>) -> Result<Page, ValidationError> {
        let page = match page {
            None => 1,
            Some(0) => {
                return Err(ValidationError::new(
                    "page",
                    "page must be 1 or more (pages count from 1), got 0",
                ))
            }
            Some(page) => page,
        };
        let page_size = check_page_size("page_size", page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
        Ok(Page { page, page_size })
    }

    /// How many items come before this page.
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.page_size)
    }
}

/// The query string of a listing that takes only the paging parameters (`?page=&page_size=`),
/// documented with the bounds [`Page::validate`] enforces. Unknown parameters are refused
/// rather than ignored.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::IntoParams,
)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page number (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<u64>, minimum = 1, maximum = 4_294_967_295_u32)]
    pub page: Option<u32>,
    /// Items per page, 1 to 100 (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<u64>, minimum = 1, maximum = 100)]
    pub page_size: Option<u32>,
}

impl PageQuery {
    /// The page asked for, with the defaults applied.
    pub fn validate(&self) -> Result<Page, ValidationError> {
        Page::validate(self.page, self.page_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_applies_the_defaults_and_refuses_what_is_out_of_bounds() {
        let page = Page::validate(None, None).unwrap();
        assert_eq!(
            page,
            Page {
                page: 1,
                page_size: DEFAULT_PAGE_SIZE
            }
        );
        assert_eq!(page.offset(), 0);
        assert_eq!(Page::validate(Some(3), Some(10)).unwrap().offset(), 20);
        assert_eq!(Page::validate(Some(0), None).unwrap_err().parameter, "page");
        let asked = PageQuery {
            page: Some(3),
            page_size: Some(10),
        };
        assert_eq!(asked.validate(), Page::validate(Some(3), Some(10)));
        for size in [0, MAX_PAGE_SIZE + 1] {
            let error = Page::validate(None, Some(size)).unwrap_err();
            assert_eq!(error.parameter, "page_size");
            assert_eq!(
                error.detail,
                format!("page_size must be between 1 and {MAX_PAGE_SIZE}, got {size}")
            );
        }
    }

    #[test]
    fn a_broken_rule_is_a_400_naming_the_parameter() {
        let problem = Problem::from(ValidationError::new("q", "too long"));
        assert_eq!(problem.status, 400);
        assert_eq!(problem.detail, "too long");
    }
}

/// The longest `Idempotency-Key` a service accepts.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 128;

/// An `Idempotency-Key` must be 1 to [`MAX_IDEMPOTENCY_KEY_CHARS`] visible ASCII characters
/// (no spaces), such as a UUID. Every service that takes one checks it with this, so the gateway
/// and the service refuse the same keys with the same words.
pub fn check_idempotency_key(key: &str) -> Result<(), ValidationError> {
    let fault = if key.is_empty() {
        "the Idempotency-Key header is empty".to_owned()
    } else if key.len() > MAX_IDEMPOTENCY_KEY_CHARS {
        format!(
            "the Idempotency-Key header must be at most {MAX_IDEMPOTENCY_KEY_CHARS} characters, got {}",
            key.chars().count()
        )
    } else if !key.bytes().all(|b| b.is_ascii_graphic()) {
        "the Idempotency-Key header must be visible ASCII characters only (no spaces), such as a \
         UUID"
            .to_owned()
    } else {
        return Ok(());
    };
    Err(ValidationError::new("Idempotency-Key", fault))
}

#[cfg(test)]
mod idempotency_key_tests {
    use super::*;

    #[test]
    fn a_key_is_one_to_128_visible_ascii_characters() {
        assert!(check_idempotency_key("order-1:charge").is_ok());
        assert!(check_idempotency_key(&"k".repeat(MAX_IDEMPOTENCY_KEY_CHARS)).is_ok());
        let too_long = "k".repeat(MAX_IDEMPOTENCY_KEY_CHARS + 1);
        for bad in ["", "has space", "tab\there", "é", too_long.as_str()] {
            let error = check_idempotency_key(bad).unwrap_err();
            assert_eq!(error.parameter, "Idempotency-Key", "{bad:?}");
        }
    }
}
