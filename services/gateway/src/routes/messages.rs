//! `/api/v1/messages`: the shopper's mailbox (what the notifications service wrote them about
//! their orders, refunds and shipments).

use axum::extract::State;
use brigade_chassis::auth::Principal;
use brigade_chassis::extract::{Json, Query};
use brigade_chassis::Problem;
use notifications_api::{ListMessages, MessagePage};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Gateway;

pub fn router() -> OpenApiRouter<Gateway> {
    OpenApiRouter::new().routes(routes!(list))
}

/// The shopper's messages, newest first.
///
/// One message per confirmed or cancelled order and per refund, each with a subject and a body
/// in text and in HTML; `delivery` says whether it was also sent by email.
#[utoipa::path(
    get,
    path = "/messages",
    operation_id = "listMessages",
    security(("bearer" = [])),
    params(ListMessages),
    responses((status = 200, description = "One page of the shopper's messages", body = MessagePage)),
)]
async fn list(
    State(gateway): State<Gateway>,
    principal: Principal,
    Query(query): Query<ListMessages>,
) -> Result<Json<MessagePage>, Problem> {
    query.validate()?;
    let page = gateway.notifications.messages(&principal.token, &query);
    Ok(Json(page.await?))
}
