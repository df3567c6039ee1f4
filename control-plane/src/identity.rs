//! `brigade up` as the local identity authority ([`brigade_chassis::authority`]): it
//! enrols every process it starts with a bootstrap secret (in the process's environment, never
//! on its command line nor in a log line), serves the JWKS and the token routes on the control
//! port, mints operator tokens for whoever proves the operator credential, and rotates its key.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use brigade_chassis::authority::{Authority, Minted, OperatorCheck, DEFAULT_PUBLISH_AHEAD};
use brigade_chassis::identity::{BOOTSTRAP_SECRET_ENV, OPERATOR};
use brigade_operator::credential::OperatorCredential;
use brigade_supervisor::ProcessSpec;

/// The running authority: its key rotation ends when this is dropped.
pub struct LocalAuthority {
    pub authority: Authority,
    rotation: tokio::task::JoinHandle<()>,
}

impl Drop for LocalAuthority {
    fn drop(&mut self) {
        self.rotation.abort();
    }
}

impl LocalAuthority {
    /// A new authority minting tokens that live `token_life`, rotating its key every
    /// `rotate_every`.
    pub fn start(token_life: Duration, rotate_every: Duration) -> anyhow::Result<LocalAuthority> {
        let authority = Authority::new(token_life, DEFAULT_PUBLISH_AHEAD)
            .context("cannot make the identity authority's signing key")?;
        let rotation = authority.rotate_every(rotate_every);
        Ok(LocalAuthority {
            authority,
            rotation,
        })
    }

    /// The operator's identity, minted here: what the control plane presents to an instance
    /// when it acts for an operator who proved the credential (a parked event's replay).
    pub fn operator(&self) -> brigade_chassis::identity::Identity {
        Arc::new(Minted::new(self.authority.clone(), OPERATOR))
    }

    /// Gives every process in `specs` a bootstrap secret for the services it runs: its group's,
    /// or, for the colocated process, every member's (`members` are their slots).
    pub fn enrol(&self, specs: &mut [ProcessSpec], members: &[String]) -> anyhow::Result<()> {
        let member_services: Vec<String> = members
            .iter()
            .map(|slot| service_of_slot(slot).to_owned())
            .collect();
        for spec in specs {
            let services = match spec.group.as_str() {
                crate::colocate::GROUP => member_services.clone(),
                group => vec![group.to_owned()],
            };
            let secret = self
                .authority
                .enrol(&services)
                .context("cannot make a bootstrap secret")?;
            spec.env.retain(|(k, _)| k != BOOTSTRAP_SECRET_ENV);
            spec.env.push((BOOTSTRAP_SECRET_ENV.to_owned(), secret));
        }
        Ok(())
    }
}

/// `catalog` of the slot `catalog-2`.
fn service_of_slot(slot: &str) -> &str {
    slot.rsplit_once('-')
        .filter(|(_, n)| n.parse::<u32>().is_ok())
        .map_or(slot, |(service, _)| service)
}

/// Checks a presented operator credential against `credential`, the one `brigade up` keeps
/// (and whose [`OperatorCredential::matches`] takes the same time wherever they differ).
pub fn operator_check(credential: OperatorCredential) -> OperatorCheck {
    Arc::new(move |presented: &str| credential.matches(presented))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_operator_credential_is_an_operator() {
        let credential = OperatorCredential::generate().unwrap();
        let check = operator_check(credential.clone());
        assert!(check(credential.secret()));
        assert!(!check(&credential.secret()[1..]));
        assert!(!check(""));
        assert!(!check(OperatorCredential::generate().unwrap().secret()));
    }

    #[test]
    fn a_slot_names_its_service() {
        assert_eq!(service_of_slot("catalog-2"), "catalog");
        assert_eq!(service_of_slot("colocated"), "colocated");
    }
}
