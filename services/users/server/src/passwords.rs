//! Password hashing with argon2id (the argon2 crate's defaults: 19 MiB, 2 passes, 1 lane, as
//! OWASP recommends), always on the blocking pool: a hash takes tens of milliseconds of CPU, which
//! on an async worker would stall every other request it serves.
//!
//! At most one hash per CPU runs at once: each takes 19 MiB, and a burst of log-ins must queue,
//! not exhaust memory or the blocking pool.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use tokio::sync::Semaphore;

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot hash the password: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("a stored password hash is unreadable: {0}")]
    StoredHash(argon2::password_hash::Error),
    #[error("the hashing task failed: {0}")]
    Task(String),
}

/// What a log-in for an email with no account is checked against, so that it takes as long as
/// one with a wrong password: the answer's timing must not tell whether an account exists. Made
/// with the same parameters as every stored hash (a test holds them equal); its password is
/// nobody's, and a match would be ignored anyway. A constant rather than made at start: a hash
/// takes 19 MiB, which an idle instance should not hold.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$JgnUU2N4jf9Xe534nSU/hA$fiMqCC5NEVdozb7gt61VjeBr5+1RiC/v9I34IRYLzo8";

/// Hashes and checks passwords. Cheap to clone.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords").finish_non_exhaustive()
    }
}

impl Passwords {
    /// Ready to hash, at most one password per CPU at a time.
    pub fn new() -> Passwords {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        Passwords {
            permits: Arc::new(Semaphore::new(cpus)),
        }
    }

    /// The argon2id PHC string of `password`, with a fresh random salt.
    pub async fn hash(&self, password: String) -> Result<String, Error> {
        run_limited(&self.permits, move || hash(&password)).await
    }

    /// Whether `password` matches `stored` (a PHC string). With no stored hash (no such account)
    /// the answer is false, after the same work as a real check.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, Error> {
        let (phc, real) = match stored {
            Some(phc) => (phc, true),
            None => (DUMMY_HASH.to_owned(), false),
        };
        let matches = run_limited(&self.permits, move || verify(&password, &phc)).await?;
        Ok(real && matches)
    }
}

impl Default for Passwords {
    fn default() -> Self {
        Passwords::new()
    }
}

/// Runs `work` on the blocking pool once a permit is free. The permit goes with the work, so
/// that a caller that gives up does not free a slot while its hash still runs.
async fn run_limited<T, F>(permits: &Arc<Semaphore>, work: F) -> Result<T, Error>
where
    F: FnOnce() -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    let permit = permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| Error::Task(e.to_string()))?;
    tokio::task::spawn_blocking(move || {
        let result = work();
        drop(permit);
        result
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))?
}

fn hash(password: &str) -> Result<String, Error> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(Error::Hash)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(Error::Hash)
}

fn verify(password: &str, phc: &str) -> Result<bool, Error> {
    let parsed = PasswordHash::new(phc).map_err(Error::StoredHash)?;
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(Error::StoredHash(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let passwords = Passwords::new();
        let hash = passwords.hash("correct horse".to_owned()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(passwords
            .verify("correct horse".to_owned(), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!passwords
            .verify("wrong horse".to_owned(), Some(hash.clone()))
            .await
            .unwrap());
        // The dummy hash costs what a real one does.
        let params = |phc: &str| {
            let parsed = PasswordHash::new(phc).unwrap();
            (
                parsed.algorithm.to_string(),
                parsed.version,
                parsed.params.to_string(),
            )
        };
        assert_eq!(params(DUMMY_HASH), params(&hash));
        // Salted: the same password hashes differently each time.
        assert_ne!(
            passwords.hash("correct horse".to_owned()).await.unwrap(),
            hash
        );
        assert!(!passwords
            .verify("correct horse".to_owned(), None)
            .await
            .unwrap());
        assert!(passwords
            .verify("x".to_owned(), Some("not a hash".to_owned()))
            .await
            .is_err());
    }
}
