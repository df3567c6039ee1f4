//! `brigade up` as the local identity authority ([`brigade_chassis::authority`]): it
//! enrols every process it starts with a bootstrap secret (in the process's environment, never
//! on its command line nor in a log line), serves the JWKS and the token routes on the control
//! port, mints operator tokens for whoever proves the operator credential, and rotates its key.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use brigade_chassis::authority::{Authority, OperatorCheck, DEFAULT_PUBLISH_AHEAD};
use brigade_chassis::identity::BOOTSTRAP_SECRET_ENV;
use brigade_supervisor::ProcessSpec;

/// The operator credential's file in `brigade up`'s data directory: the one the operator
/// commands read (`brigade_operator`'s credential module owns writing it).
pub const OPERATOR_CREDENTIAL_FILE: &str = "operator-token";

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

/// Checks a presented operator credential against the file in `data_dir`, read at each check
/// so that a credential written or replaced while `up` runs is the one that counts. No file, no
/// operator.
pub fn operator_check(data_dir: &Path) -> OperatorCheck {
    let path: PathBuf = data_dir.join(OPERATOR_CREDENTIAL_FILE);
    Arc::new(
        move |presented: &str| match std::fs::read_to_string(&path) {
            Ok(text) => constant_time_eq(text.trim().as_bytes(), presented.as_bytes()),
            Err(_) => false,
        },
    )
}

/// Equality whose time does not depend on where two equally long inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_credential_in_the_file_is_an_operator() {
        let dir = tempfile::tempdir().unwrap();
        let check = operator_check(dir.path());
        assert!(!check("anything"), "no file, no operator");
        std::fs::write(dir.path().join(OPERATOR_CREDENTIAL_FILE), "s3cret\n").unwrap();
        assert!(check("s3cret"));
        assert!(!check("s3cre"));
        assert!(!check("s3creT"));
        assert!(!check(""));
    }

    #[test]
    fn a_slot_names_its_service() {
        assert_eq!(service_of_slot("catalog-2"), "catalog");
        assert_eq!(service_of_slot("colocated"), "colocated");
    }
}
