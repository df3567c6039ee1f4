//! Where the `brigade` commands that change the system (`scale`, `restart`, `chaos kill|pause|
//! resume|clear|scenario`, `events replay`) find the operator credential: `--operator-token-file`
//! (or `BRIGADE_OPERATOR_TOKEN_FILE`), else `BRIGADE_OPERATOR_TOKEN` (the secret itself, for
//! scripts; never a flag, which other users could read in the process list), else the file
//! `brigade up` writes in its data directory (`BRIGADE_DATA_DIR`, `.brigade` by default, as
//! for `up`).

use std::path::PathBuf;

use anyhow::Context as _;

use crate::credential::{CredentialError, OperatorCredential};

/// The secret itself, for scripts.
const TOKEN_VARIABLE: &str = "BRIGADE_OPERATOR_TOKEN";

/// Where to find the operator credential, for every command that changes the system.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OperatorToken {
    /// The file holding the operator credential [default: operator-token in `brigade up`'s data
    /// directory: $BRIGADE_DATA_DIR or .brigade]. BRIGADE_OPERATOR_TOKEN may give the secret
    /// itself instead.
    #[arg(
        long = "operator-token-file",
        env = "BRIGADE_OPERATOR_TOKEN_FILE",
        value_name = "FILE",
        global = true
    )]
    pub file: Option<PathBuf>,
}

impl OperatorToken {
    /// The credential, or an error that says where it was looked for and how to give it.
    pub fn load(&self) -> anyhow::Result<OperatorCredential> {
        self.load_from(|name| std::env::var(name).ok())
    }

    fn load_from(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<OperatorCredential> {
        if let Some(file) = &self.file {
            return OperatorCredential::load(file).map_err(|e| explain(e, true));
        }
        if let Some(secret) = env(TOKEN_VARIABLE) {
            return OperatorCredential::from_secret(secret.trim())
                .with_context(|| format!("{TOKEN_VARIABLE} holds no operator credential"));
        }
        let data_dir = env("BRIGADE_DATA_DIR")
            .unwrap_or_else(|| crate::credential::DEFAULT_DATA_DIR.to_owned());
        OperatorCredential::load(&OperatorCredential::path_in(data_dir.as_ref()))
            .map_err(|e| explain(e, false))
    }
}

/// A load error with what the user can do about it.
fn explain(error: CredentialError, explicit: bool) -> anyhow::Error {
    let missing = matches!(error, CredentialError::Missing { .. });
    let error = anyhow::Error::new(error);
    if missing && !explicit {
        error.context(
            "this command changes the system, so it needs the operator credential that \
             `brigade up` writes: run it in the directory `brigade up` runs in (with \
             BRIGADE_DATA_DIR set to its --data-dir if it was given one), or pass \
             --operator-token-file DATA_DIR/operator-token, or set BRIGADE_OPERATOR_TOKEN",
        )
    } else {
        error.context("cannot use the operator credential")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_flag_wins_then_the_variable_then_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let (in_dir, _) = OperatorCredential::load_or_create(dir.path()).unwrap();
        let other = OperatorCredential::generate().unwrap();
        let data_dir = dir.path().to_str().unwrap().to_owned();
        let env = |token: Option<String>| {
            let data_dir = data_dir.clone();
            move |name: &str| match name {
                "BRIGADE_DATA_DIR" => Some(data_dir.clone()),
                TOKEN_VARIABLE => token.clone(),
                _ => None,
            }
        };
        let none = OperatorToken::default();
        assert_eq!(none.load_from(env(None)).unwrap(), in_dir);
        let secret = Some(other.secret().to_owned());
        assert_eq!(none.load_from(env(secret.clone())).unwrap(), other);
        let file = OperatorToken {
            file: Some(OperatorCredential::path_in(dir.path())),
        };
        assert_eq!(file.load_from(env(secret)).unwrap(), in_dir);
    }

    #[test]
    fn a_missing_credential_says_how_to_give_one() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().to_str().unwrap().to_owned();
        let error = OperatorToken::default()
            .load_from(|name| (name == "BRIGADE_DATA_DIR").then(|| data_dir.clone()))
            .unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("--operator-token-file"), "{message}");
        assert!(message.contains("BRIGADE_DATA_DIR"), "{message}");
        assert!(message.contains("operator-token"), "{message}");
        let error = OperatorToken::default()
            .load_from(|name| (name == TOKEN_VARIABLE).then(|| "guess".to_owned()))
            .unwrap_err();
        assert!(format!("{error:#}").contains(TOKEN_VARIABLE), "{error:#}");
    }
}
