//! `/v1/messages`: the signed-in shopper's mailbox.

use axum::extract::State;
use brigade_chassis::auth::Principal;
use brigade_chassis::extract::{Json, PathUuid, Query};
use brigade_chassis::problem::OrNotFound;
use brigade_chassis::Problem;
use notifications_api::{paths, ListMessages, Message, MessagePage};

use super::AppState;

/// The signed-in shopper's messages, newest first.
///
/// Also remembers the address the shopper's token carries: email goes there (users'
/// `UserRegistered` gave one at sign-up, except to shoppers registered before it carried it).
#[utoipa::path(
    get,
    path = paths::MESSAGES,
    operation_id = "listMessages",
    security(("bearer" = [])),
    params(ListMessages),
    responses((status = 200, description = "One page of the shopper's messages", body = MessagePage)),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ListMessages>,
) -> Result<Json<MessagePage>, Problem> {
    let page = query.validate()?;
    state
        .store
        .remember_address(principal.user_id, &principal.email)
        .await?;
    Ok(Json(state.store.page(principal.user_id, page).await?))
}

/// One of the signed-in shopper's messages.
///
/// Another shopper's message is answered exactly as an absent one, so that ids cannot be probed.
#[utoipa::path(
    get,
    path = paths::MESSAGE_PATTERN,
    operation_id = "getMessage",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "A message id.")),
    responses(
        (status = 200, description = "The message", body = Message),
        (status = 404, description = "not-found: the shopper has no message with this id",
            body = Problem),
    ),
)]
pub(super) async fn one(
    State(state): State<AppState>,
    principal: Principal,
    PathUuid(id, _): PathUuid<paths::MessageId>,
) -> Result<Json<Message>, Problem> {
    let message = state.store.message(principal.user_id, id).await?;
    Ok(Json(message.or_not_found(|| {
        format!("you have no message with id {id}")
    })?))
}
