//! Access tokens, as every service checks them: the `Authorization` header, then the JWT's
//! header, key id and algorithm, the signature, and the claims behind it.
//!
//! Two kinds of input, chosen by the first byte:
//! - an `Authorization` header value as a caller sends it. Nobody but the users service holds
//!   the signing key, so whatever the fuzzer makes must be refused;
//! - a JWT header and claims (JSON, separated by a newline) that this target signs with the key
//!   the verifier trusts, to reach the claims' decoding and checks behind the signature. Whatever
//!   is accepted then is a token for Brigade from its users service that has not expired.
#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use brigade_chassis::auth::{
    bearer_token, SigningKey, Verifier, ALGORITHM, AUDIENCE, ISSUER, LEEWAY,
};
use jsonwebtoken::jwk::JwkSet;
use libfuzzer_sys::fuzz_target;

struct Trusted {
    runtime: tokio::runtime::Runtime,
    verifier: Verifier,
    key: jsonwebtoken::EncodingKey,
}

fn trusted() -> &'static Trusted {
    static TRUSTED: OnceLock<Trusted> = OnceLock::new();
    TRUSTED.get_or_init(|| {
        let key = SigningKey::generate("k1").expect("a key");
        let jwks = JwkSet {
            keys: vec![key.public_jwk().clone()],
        };
        Trusted {
            // `verify` awaits only locks with a fixed key set: a one-thread runtime is enough.
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a runtime"),
            verifier: Verifier::from_jwks(&jwks).expect("a verifier"),
            key: jsonwebtoken::EncodingKey::from_ed_der(key.pkcs8_der()),
        }
    })
}

fn now() -> u64 {
    brigade_chassis::time::unix_ms() / 1000
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let trusted = trusted();
    if mode % 2 == 0 {
        let Ok(value) = http::HeaderValue::from_bytes(rest) else {
            return;
        };
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value);
        let Ok(token) = bearer_token(&headers) else {
            return;
        };
        let verdict = trusted.runtime.block_on(trusted.verifier.verify(token));
        assert!(
            verdict.is_err(),
            "an unsigned token was accepted: {token:?}"
        );
        return;
    }
    let split = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let (header, claims) = rest.split_at(split);
    let claims = claims.get(1..).unwrap_or_default();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let message = format!("{}.{}", b64.encode(header), b64.encode(claims));
    let Ok(signature) = jsonwebtoken::crypto::sign(message.as_bytes(), &trusted.key, ALGORITHM)
    else {
        return;
    };
    let token = format!("{message}.{signature}");
    if let Ok(accepted) = trusted.runtime.block_on(trusted.verifier.verify(&token)) {
        assert_eq!(accepted.iss, ISSUER);
        assert_eq!(accepted.aud, AUDIENCE);
        assert!(
            accepted.exp.saturating_add(LEEWAY.as_secs()) >= now(),
            "an expired token was accepted: exp {}",
            accepted.exp
        );
        let named = jsonwebtoken::decode_header(&token).expect("an accepted token has a header");
        assert_eq!(named.alg, ALGORITHM);
        assert_eq!(named.kid.as_deref(), Some("k1"));
    }
});
