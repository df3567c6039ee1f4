//! An operator's identity for calling a service directly (setting stock, refunding a charge,
//! rotating the users' keys, reading the audits, setting request faults): short-lived tokens,
//! one per service, from the control plane's identity authority, which mints them for whoever
//! proves the operator credential.

use std::sync::Arc;

use brigade_chassis::identity::{AuthorityTokens, Identity};

use crate::credential::OperatorCredential;

/// Why no operator token could be had.
#[derive(Debug, thiserror::Error)]
pub enum OperatorIdentityError {
    #[error(transparent)]
    Credential(#[from] crate::credential::CredentialError),
    #[error("cannot have the operator's identity from the control plane: {0}")]
    Authority(#[from] brigade_chassis::identity::PresentError),
}

/// The operator's identity, from the control plane at `control_url`, proving `credential`:
/// give it to a client ([`brigade_chassis::client::ServiceClient::with_identity`]), or ask it
/// for a token per service. Tokens are cached and renewed before they expire.
pub fn operator_presenter(control_url: &str, credential: &OperatorCredential) -> Identity {
    Arc::new(AuthorityTokens::operator(
        control_url,
        credential.secret().to_owned(),
    ))
}

/// A token saying the operator calls `service`, from the control plane at `control_url`,
/// proving `credential`. Send it in the `Brigade-Identity` header.
pub async fn operator_identity(
    control_url: &str,
    credential: &OperatorCredential,
    service: &str,
) -> Result<String, OperatorIdentityError> {
    let token = operator_presenter(control_url, credential)
        .token_for(service)
        .await?;
    Ok(token.to_string())
}
