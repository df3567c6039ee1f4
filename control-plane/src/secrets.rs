//! The secrets `brigade up` makes for the system it runs on one machine: the users service's
//! key-encryption key, which seals the token signing keys at rest.
//!
//! Written once into the data directory (beside, not inside, the stores' `data/`, so that a copy
//! of the stores does not carry the key that opens them), readable by its owner only (0600),
//! and kept across runs: the stores' sealed keys need the same key at every start. The instances
//! get its path (`BRIGADE_USERS_KEY_ENCRYPTION_KEY_FILE`), never its value, so it shows in no
//! process listing and no log.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The key file's name in the data directory.
pub const KEY_ENCRYPTION_KEY_FILE: &str = "users-key-encryption-key";
/// The environment variable the users service reads the file's path from.
pub const KEY_ENCRYPTION_KEY_FILE_ENV: &str = "BRIGADE_USERS_KEY_ENCRYPTION_KEY_FILE";

/// The key file in `data_dir`, made now (random, 0600) if there is none; an existing one is
/// kept, its mode narrowed to 0600 if it was wider.
pub fn key_encryption_key_file(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let path = data_dir.join(KEY_ENCRYPTION_KEY_FILE);
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path);
    match created {
        Ok(mut file) => {
            let (_, text) = users::sealing::KeyEncryptionKey::generate();
            file.write_all(format!("{text}\n").as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write the key file {}", path.display()))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let mode = std::fs::metadata(&path)
                .with_context(|| format!("cannot read the key file {}", path.display()))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .with_context(|| {
                        format!("cannot make the key file {} private", path.display())
                    })?;
            }
        }
        Err(e) => {
            return Err(e).with_context(|| format!("cannot create the key file {}", path.display()))
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_made_once_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = key_encryption_key_file(dir.path()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let key = std::fs::read_to_string(&path).unwrap();
        assert!(users::sealing::KeyEncryptionKey::parse(&key).is_ok());
        // Kept across runs (the sealed keys need it), and narrowed if someone widened it.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(key_encryption_key_file(dir.path()).unwrap(), path);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), key);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
