//! The users service's contract: accounts, password hashes (argon2id), signed access tokens and the JWKS.

#![forbid(unsafe_code)]
