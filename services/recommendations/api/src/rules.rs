//! The rules a request must follow, shared by the service and by edges that check early.

use brigade_chassis::problem::quoted;
pub use brigade_chassis::validation::ValidationError;
use serde::{Deserialize, Serialize};

/// The fewest products one answer may be asked for.
pub const MIN_LIMIT: u32 = 1;
/// The most products one answer may be asked for: a strip on a page, not a listing.
pub const MAX_LIMIT: u32 = 20;
/// How many products an answer has when the request does not say.
pub const DEFAULT_LIMIT: u32 = 4;

/// The query string of both routes. Unknown parameters are refused rather than ignored.
///
/// `limit` is kept as the text sent, so that `limit=abc` is refused by [`Self::validate`] with
/// a problem naming `limit`, like `limit=0`, rather than as an unreadable query string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecommendationsQuery {
    /// How many products, 1 to 20 (default 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 20, default = 4)]
    pub limit: Option<String>,
}

impl RecommendationsQuery {
    /// A query asking for `limit` products.
    pub fn with_limit(limit: u32) -> RecommendationsQuery {
        RecommendationsQuery {
            limit: Some(limit.to_string()),
        }
    }

    /// The number of products asked for, with the default applied.
    pub fn validate(&self) -> Result<u32, ValidationError> {
        let Some(text) = self.limit.as_deref() else {
            return Ok(DEFAULT_LIMIT);
        };
        match text.parse::<u32>() {
            Ok(limit) if (MIN_LIMIT..=MAX_LIMIT).contains(&limit) => Ok(limit),
            _ => Err(ValidationError::new(
                "limit",
                format!(
                    "limit must be a whole number from {MIN_LIMIT} to {MAX_LIMIT}, got {}",
                    quoted(text)
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(text: Option<&str>) -> Result<u32, ValidationError> {
        RecommendationsQuery {
            limit: text.map(str::to_owned),
        }
        .validate()
    }

    #[test]
    fn the_limit_defaults_to_4_and_takes_1_to_20() {
        assert_eq!(limit(None), Ok(DEFAULT_LIMIT));
        for n in [1, 2, 19, 20] {
            assert_eq!(limit(Some(&n.to_string())), Ok(n));
            assert_eq!(RecommendationsQuery::with_limit(n).validate(), Ok(n));
        }
    }

    #[test]
    fn other_limits_are_refused_naming_the_parameter_and_the_value() {
        for bad in ["0", "21", "-1", "abc", "", "1.5", "4294967296", " 3"] {
            let error = limit(Some(bad)).err();
            assert_eq!(
                error.as_ref().map(|e| e.parameter.as_str()),
                Some("limit"),
                "{bad}"
            );
            let detail = error.map(|e| e.detail).unwrap_or_default();
            assert!(detail.contains(&format!("`{bad}`")), "{detail}");
            assert!(detail.contains("from 1 to 20"), "{detail}");
        }
    }

    #[test]
    fn the_query_string_refuses_unknown_and_repeated_parameters() {
        let parse = serde_urlencoded::from_str::<RecommendationsQuery>;
        assert_eq!(
            parse("limit=3").ok(),
            Some(RecommendationsQuery::with_limit(3))
        );
        assert_eq!(parse("").ok(), Some(RecommendationsQuery::default()));
        // Text, so that a bad number is the rule's refusal, naming `limit`.
        assert_eq!(
            parse("limit=abc").ok().map(|q| q.validate().is_err()),
            Some(true)
        );
        assert!(parse("limt=3").is_err());
        assert!(parse("limit=3&limit=4").is_err());
    }
}
