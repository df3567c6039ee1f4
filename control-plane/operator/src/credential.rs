//! The operator credential: the secret that proves a caller of the control port is the person
//! (or a process of theirs) who ran `brigade up`. 32 random bytes, base64url without padding,
//! kept in `DATA_DIR/operator-token`, a file only its owner may read.
//!
//! `brigade up` calls [`OperatorCredential::load_or_create`]: a second `up` on the same data
//! directory reuses the file, so the CLI and an open console stay logged in across restarts.
//! The operator commands call [`OperatorCredential::load`] (or [`OperatorCredential::from_secret`]
//! for `BRIGADE_OPERATOR_TOKEN`) and send [`OperatorCredential::bearer`]. The control port checks
//! what it is given with [`OperatorCredential::matches`], in constant time.
//!
//! The secret never reaches a log line through this type: `Debug` prints a redacted form, and
//! only [`OperatorCredential::secret`] hands it out (to put it in a header, a cookie or the
//! console's login link, the one place `brigade up` shows it).

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::TryRngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The credential file's name in `brigade up`'s data directory.
pub const FILE_NAME: &str = "operator-token";

/// `brigade up`'s data directory when neither `--data-dir` nor `BRIGADE_DATA_DIR` names one:
/// where up writes the credential and where the operator commands look for it.
pub const DEFAULT_DATA_DIR: &str = ".brigade";
/// How many random bytes a credential holds.
const SECRET_BYTES: usize = 32;

/// Why a credential could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("there is no operator credential at {}: `brigade up` writes it when it starts", path.display())]
    Missing { path: PathBuf },
    #[error("cannot read the operator credential {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the operator credential {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the operator credential {} can be read by other users (mode {mode:o}); \
         run `chmod 600 {}` or delete it and start `brigade up` again",
        path.display(), path.display()
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error(
        "the operator credential {} belongs to user {owner}, not to you (user {me})",
        path.display()
    )]
    NotOwner { path: PathBuf, owner: u32, me: u32 },
    #[error(
        "{} holds no operator credential ({SECRET_BYTES} bytes as 43 base64url characters); \
         delete it and start `brigade up` again",
        path.display()
    )]
    Malformed { path: PathBuf },
    #[error(
        "the operator credential given is not {SECRET_BYTES} bytes as 43 base64url characters"
    )]
    MalformedSecret,
    #[error("the system's random source failed: {0}")]
    Random(String),
}

/// The operator credential. Cheap to clone; compare with [`OperatorCredential::matches`].
#[derive(Clone, PartialEq, Eq)]
pub struct OperatorCredential {
    /// The base64url text, exactly as the file holds it and callers send it.
    secret: String,
}

impl std::fmt::Debug for OperatorCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("OperatorCredential")
            .field(&self.redacted())
            .finish()
    }
}

/// Whether [`OperatorCredential::load_or_create`] found a credential or made one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Created,
    Reused,
}

impl OperatorCredential {
    /// Where `brigade up` with `data_dir` keeps its credential.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join(FILE_NAME)
    }

    /// A new credential from the operating system's random source.
    pub fn generate() -> Result<OperatorCredential, CredentialError> {
        let mut bytes = [0u8; SECRET_BYTES];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| CredentialError::Random(e.to_string()))?;
        Ok(OperatorCredential {
            secret: URL_SAFE_NO_PAD.encode(bytes),
        })
    }

    /// The credential in `data_dir`, made (mode 0600) if there is none yet.
    pub fn load_or_create(
        data_dir: &Path,
    ) -> Result<(OperatorCredential, Origin), CredentialError> {
        let path = Self::path_in(data_dir);
        match Self::load(&path) {
            Ok(credential) => return Ok((credential, Origin::Reused)),
            Err(CredentialError::Missing { .. }) => {}
            Err(error) => return Err(error),
        }
        std::fs::create_dir_all(data_dir).map_err(|source| CredentialError::Write {
            path: path.clone(),
            source,
        })?;
        let credential = Self::generate()?;
        match credential.write_new(&path) {
            Ok(()) => Ok((credential, Origin::Created)),
            // Another `brigade up` on the same directory won the race: use its credential.
            Err(CredentialError::Write { source, .. })
                if source.kind() == ErrorKind::AlreadyExists =>
            {
                Ok((Self::load(&path)?, Origin::Reused))
            }
            Err(error) => Err(error),
        }
    }

    /// Writes the credential to `path`, which must not exist yet. The secret goes to a temporary
    /// file created with mode 0600 (so it is never readable by others, not even for an instant),
    /// flushed, then hard-linked into place: a reader sees no file or the whole credential, and
    /// of two racing writers exactly one wins (the link fails with `AlreadyExists`).
    fn write_new(&self, path: &Path) -> Result<(), CredentialError> {
        let failed = |source| CredentialError::Write {
            path: path.to_owned(),
            source,
        };
        let temporary = path.with_file_name(format!(
            ".{FILE_NAME}.{}.{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temporary)?;
            // The mode above is filtered by the umask, which can only take bits away; set it
            // exactly anyway so that the file never depends on the caller's umask.
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            file.write_all(self.secret.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            std::fs::hard_link(&temporary, path)
        })();
        // Whatever happened, the temporary name goes: the credential lives under `path` only.
        let _ = std::fs::remove_file(&temporary);
        written.map_err(failed)
    }

    /// The credential in the file at `path`, which must be a regular file of the current user
    /// that no one else can read or write (as ssh insists for its keys).
    pub fn load(path: &Path) -> Result<OperatorCredential, CredentialError> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == ErrorKind::NotFound => {
                return Err(CredentialError::Missing {
                    path: path.to_owned(),
                })
            }
            Err(source) => {
                return Err(CredentialError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let read_failed = |source| CredentialError::Read {
            path: path.to_owned(),
            source,
        };
        // The metadata of the file opened, not of the path again: no swap in between.
        let metadata = file.metadata().map_err(read_failed)?;
        let mode = metadata.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(CredentialError::TooOpen {
                path: path.to_owned(),
                mode,
            });
        }
        let me = rustix::process::getuid().as_raw();
        if metadata.uid() != me {
            return Err(CredentialError::NotOwner {
                path: path.to_owned(),
                owner: metadata.uid(),
                me,
            });
        }
        let text = std::io::read_to_string(file).map_err(read_failed)?;
        Self::from_secret(text.trim()).map_err(|_| CredentialError::Malformed {
            path: path.to_owned(),
        })
    }

    /// A credential given as text (e.g. `BRIGADE_OPERATOR_TOKEN`); refused unless it is one
    /// `brigade up` could have made, so that an empty or short secret never counts as one.
    pub fn from_secret(secret: &str) -> Result<OperatorCredential, CredentialError> {
        match URL_SAFE_NO_PAD.decode(secret) {
            Ok(bytes) if bytes.len() == SECRET_BYTES => Ok(OperatorCredential {
                secret: secret.to_owned(),
            }),
            _ => Err(CredentialError::MalformedSecret),
        }
    }

    /// Whether `presented` is this credential. Constant time in the secret's content: a caller
    /// learns nothing from how long a wrong guess took to refuse.
    pub fn matches(&self, presented: &str) -> bool {
        bool::from(self.secret.as_bytes().ct_eq(presented.as_bytes()))
    }

    /// The secret itself, for an `Authorization` header, a cookie or the console's login link.
    /// Never log it: log [`OperatorCredential::redacted`].
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The value of an `Authorization` header that carries this credential.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.secret)
    }

    /// The value of the console's session cookie: derived from the secret, never the secret
    /// itself. Browsers send a cookie to every port of its host, so another local server the
    /// operator visits could read it; what it reads opens the console's mutations on this
    /// control port (and only with the same-origin proof, which it cannot make from a browser)
    /// but is not the credential, which also mints service identities.
    pub fn console_session(&self) -> String {
        let mut digest = Sha256::new();
        digest.update(b"brigade console session\0");
        digest.update(self.secret.as_bytes());
        URL_SAFE_NO_PAD.encode(digest.finalize())
    }

    /// Whether `presented` is [`OperatorCredential::console_session`], in constant time.
    pub fn matches_console_session(&self, presented: &str) -> bool {
        bool::from(
            self.console_session()
                .as_bytes()
                .ct_eq(presented.as_bytes()),
        )
    }

    /// What logs may show: the first four characters, enough to tell two credentials apart.
    pub fn redacted(&self) -> String {
        format!("{}…", &self.secret[..4])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_credential_is_32_random_bytes_in_a_file_only_its_owner_reads() {
        let dir = tempfile::tempdir().unwrap();
        let (made, origin) = OperatorCredential::load_or_create(dir.path()).unwrap();
        assert_eq!(origin, Origin::Created);
        assert_eq!(made.secret().len(), 43, "{}", made.secret());
        assert_eq!(URL_SAFE_NO_PAD.decode(made.secret()).unwrap().len(), 32);
        let path = OperatorCredential::path_in(dir.path());
        let metadata = std::fs::metadata(&path).unwrap();
        assert_eq!(metadata.mode() & 0o777, 0o600);
        assert_eq!(metadata.uid(), rustix::process::getuid().as_raw());
        // Nothing else left behind (no temporary file).
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [FILE_NAME]);

        let (again, origin) = OperatorCredential::load_or_create(dir.path()).unwrap();
        assert_eq!(origin, Origin::Reused);
        assert_eq!(again, made);
        let (other, _) = OperatorCredential::load_or_create(&dir.path().join("other")).unwrap();
        assert_ne!(other, made, "two directories, two secrets");
    }

    #[test]
    fn matches_only_the_exact_secret() {
        let credential = OperatorCredential::generate().unwrap();
        assert!(credential.matches(credential.secret()));
        assert!(!credential.matches(""));
        assert!(!credential.matches(&credential.secret()[..42]));
        assert!(!credential.matches(&format!("{}A", credential.secret())));
        let mut flipped = credential.secret().to_owned().into_bytes();
        flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
        assert!(!credential.matches(std::str::from_utf8(&flipped).unwrap()));
        assert!(!credential.matches(OperatorCredential::generate().unwrap().secret()));
        // The console's cookie is not the credential, and the credential is not a cookie.
        let session = credential.console_session();
        assert!(credential.matches_console_session(&session));
        assert!(!credential.matches(&session));
        assert!(!credential.matches_console_session(credential.secret()));
    }

    #[test]
    fn the_secret_stays_out_of_debug_output() {
        let credential = OperatorCredential::generate().unwrap();
        let shown = format!("{credential:?}");
        assert!(!shown.contains(credential.secret()), "{shown}");
        assert!(shown.contains(&credential.secret()[..4]), "{shown}");
    }

    #[test]
    fn a_file_others_can_read_or_that_holds_no_credential_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_, _) = OperatorCredential::load_or_create(dir.path()).unwrap();
        let path = OperatorCredential::path_in(dir.path());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let refused = OperatorCredential::load(&path).unwrap_err();
        assert!(
            matches!(refused, CredentialError::TooOpen { mode: 0o644, .. }),
            "{refused}"
        );
        assert!(refused.to_string().contains("chmod 600"), "{refused}");
        // `up` refuses it too rather than serving a secret others may have read.
        assert!(OperatorCredential::load_or_create(dir.path()).is_err());

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "\n").unwrap();
        let refused = OperatorCredential::load(&path).unwrap_err();
        assert!(
            matches!(refused, CredentialError::Malformed { .. }),
            "{refused}"
        );
        std::fs::write(&path, "c2hvcnQ\n").unwrap();
        assert!(OperatorCredential::load(&path).is_err(), "a short secret");

        let missing = OperatorCredential::load(&dir.path().join("none")).unwrap_err();
        assert!(
            matches!(missing, CredentialError::Missing { .. }),
            "{missing}"
        );
        assert!(OperatorCredential::from_secret("").is_err());
        assert!(OperatorCredential::from_secret("not base64!").is_err());
    }
}
