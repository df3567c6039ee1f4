//! The rules a request must follow, shared by the service and by edges that check early.

pub use brigade_chassis::validation::ValidationError;

/// `GET /v1/messages` query string: the chassis' paging rules. Unknown parameters are refused
/// rather than ignored.
pub type ListMessages = brigade_chassis::validation::PageQuery;
