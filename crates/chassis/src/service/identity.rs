//! Which identity an instance presents and how it checks its callers', from its flags
//! ([`super::IdentityMode`]). Never silently none: without identity configuration the instance
//! refuses to start and says what to give it.

use std::sync::Arc;

use super::{Error, IdentityMode, ServiceArgs};
use crate::guard::Guard;
use crate::identity::{
    AuthorityTokens, DevIdentity, FileToken, Identity, BOOTSTRAP_SECRET_ENV, JWKS_PATH,
};
use crate::metrics::Metrics;

/// An instance's identity: what it presents and what checks its callers.
pub(super) struct Established {
    pub presenter: Identity,
    pub guard: Guard,
}

/// The identity `args` give `service`; `secret` is the bootstrap secret from the environment.
pub(super) fn establish(
    service: &str,
    args: &ServiceArgs,
    secret: Option<String>,
    metrics: &Metrics,
) -> Result<Established, Error> {
    let secret = secret.filter(|s| !s.trim().is_empty());
    let mode = match args.identity {
        IdentityMode::Auto if secret.is_some() => IdentityMode::Authority,
        IdentityMode::Auto if args.identity_token_file.is_some() => IdentityMode::Platform,
        IdentityMode::Auto => {
            return Err(Error::Config(format!(
                "{service} has no service identity, so it could neither prove who it is nor check \
                 who calls it. Start it with `brigade up` (which gives it one through \
                 {BOOTSTRAP_SECRET_ENV}), on a cluster with --identity-token-file, \
                 --identity-audience, --identity-issuer and --identity-jwks-url \
                 (BRIGADE_IDENTITY_*), or by hand for development with --identity dev"
            )))
        }
        other => other,
    };
    match mode {
        IdentityMode::Authority => authority(service, args, secret, metrics),
        IdentityMode::Platform => platform(service, args, metrics),
        IdentityMode::Dev => {
            tracing::warn!(
                "DEVELOPMENT IDENTITY: {service} presents an unsigned identity and believes any \
                 caller that names itself; never run a deployment with --identity dev"
            );
            Ok(Established {
                presenter: Arc::new(DevIdentity::new(service)),
                guard: Guard::dev(service, metrics),
            })
        }
        IdentityMode::Harness => harness(service, metrics),
        IdentityMode::Auto => Err(Error::Config("identity mode left undecided".to_owned())),
    }
}

fn authority(
    service: &str,
    args: &ServiceArgs,
    secret: Option<String>,
    metrics: &Metrics,
) -> Result<Established, Error> {
    let secret = secret.ok_or_else(|| {
        Error::Config(format!(
            "--identity authority needs the bootstrap secret in {BOOTSTRAP_SECRET_ENV}"
        ))
    })?;
    let url = args.registry_url.as_deref().ok_or_else(|| {
        Error::Config(
            "--identity authority needs the control plane's URL (--registry-url)".to_owned(),
        )
    })?;
    let url = url.trim_end_matches('/');
    Ok(Established {
        presenter: Arc::new(AuthorityTokens::new(url, secret, service)),
        guard: Guard::authority(service, &format!("{url}{JWKS_PATH}"), metrics),
    })
}

fn platform(service: &str, args: &ServiceArgs, metrics: &Metrics) -> Result<Established, Error> {
    let missing = |flag: &str| {
        Error::Config(format!(
            "platform identity needs --{flag} (BRIGADE_{})",
            flag.to_ascii_uppercase().replace('-', "_")
        ))
    };
    let file = args
        .identity_token_file
        .clone()
        .ok_or_else(|| missing("identity-token-file"))?;
    let audience = args
        .identity_audience
        .as_deref()
        .ok_or_else(|| missing("identity-audience"))?;
    let issuer = args
        .identity_issuer
        .as_deref()
        .ok_or_else(|| missing("identity-issuer"))?;
    let jwks_url = args
        .identity_jwks_url
        .as_deref()
        .ok_or_else(|| missing("identity-jwks-url"))?;
    let verifier = crate::auth::Verifier::from_url(jwks_url);
    Ok(Established {
        presenter: Arc::new(FileToken::new(file)),
        guard: Guard::signed(service, verifier, issuer, audience, metrics),
    })
}

#[cfg(feature = "testing")]
fn harness(service: &str, metrics: &Metrics) -> Result<Established, Error> {
    let harness = crate::authority::Harness::get();
    Ok(Established {
        presenter: harness.presenter(service),
        guard: harness.guard(service, metrics),
    })
}

#[cfg(not(feature = "testing"))]
fn harness(_service: &str, _metrics: &Metrics) -> Result<Established, Error> {
    Err(Error::Config(
        "the test harness's identity exists only in tests".to_owned(),
    ))
}
