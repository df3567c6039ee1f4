//! The rules a request must follow, shared by the service and by edges that check early.

use brigade_chassis::validation::Page;
pub use brigade_chassis::validation::ValidationError;
use serde::{Deserialize, Serialize};

/// `GET /v1/messages` query string: the chassis' paging rules. Unknown parameters are refused
/// rather than ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListMessages {
    /// 1-based page number (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<u64>, minimum = 1, maximum = 4_294_967_295_u32)]
    pub page: Option<u32>,
    /// Messages per page, 1 to 100 (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<u64>, minimum = 1, maximum = 100)]
    pub page_size: Option<u32>,
}

impl ListMessages {
    /// The page asked for, with the defaults applied.
    pub fn validate(&self) -> Result<Page, ValidationError> {
        Page::validate(self.page, self.page_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_follows_the_chassis_rules() {
        let page = ListMessages::default().validate().ok();
        assert_eq!(page.map(|p| (p.page, p.page_size)), Some((1, 20)));
        let zero = ListMessages {
            page: Some(0),
            page_size: None,
        };
        assert_eq!(
            zero.validate().err().map(|e| e.parameter).as_deref(),
            Some("page")
        );
    }
}
