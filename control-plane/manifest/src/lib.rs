//! The manifest: which services `brigade up` runs, how many instances of each, on which ports,
//! with which environment. `brigade.toml` at the repository root is the default.
//!
//! The types, the parsing and the rules live here, apart from the `brigade` binary (whose
//! `manifest` module adds the compiled-in manifest and the services `brigade run` knows), so
//! that the fuzz targets (`fuzz/`) parse manifests with this very code without building every
//! service.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use brigade_registry::{is_valid_service_name, service_name_rule};
use serde::Deserialize;

/// The file name looked for in the current directory.
pub const FILE_NAME: &str = "brigade.toml";

/// The most instances of one service (also the most `brigade scale` goes to).
pub const MAX_INSTANCES: u32 = brigade_supervisor::MAX_INSTANCES;

/// Why a manifest could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // Sources are not repeated in the messages: `brigade` prints the whole chain.
    #[error("cannot read the manifest {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the manifest {origin} is not valid")]
    Parse {
        origin: String,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("the manifest {origin} is not valid: {detail}")]
    Invalid { origin: String, detail: String },
}

/// A parsed and validated manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// In start order; stopped in the reverse order.
    #[serde(rename = "service", default)]
    pub services: Vec<ServiceSpec>,
    /// How events travel; the embedded transport when absent.
    #[serde(default)]
    pub events: EventsSpec,
    /// Fault injection; off when absent.
    #[serde(default)]
    pub chaos: ChaosSpec,
}

/// The `[chaos]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChaosSpec {
    /// Start every instance with fault injection on, as `brigade up --chaos` does.
    #[serde(default)]
    pub enabled: bool,
}

/// The `[events]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsSpec {
    /// NATS JetStream URL (nats://host:port); the embedded transport when absent.
    #[serde(default)]
    pub nats: Option<String>,
    /// Prefix of the JetStream streams and subjects (default `brigade`).
    #[serde(default)]
    pub namespace: Option<String>,
}

/// A JetStream namespace: it becomes part of stream names and subjects.
pub fn is_valid_namespace(namespace: &str) -> bool {
    !namespace.is_empty()
        && namespace.len() <= 32
        && namespace
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// One `[[service]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    pub name: String,
    #[serde(default = "one")]
    pub instances: u32,
    /// A fixed port on 127.0.0.1; `None` means an ephemeral port per instance.
    #[serde(default)]
    pub port: Option<u16>,
    /// Extra flags for every instance.
    #[serde(default)]
    pub args: Vec<String>,
    /// A program and its arguments to run instead of `brigade run NAME`.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, EnvValue>,
}

fn one() -> u32 {
    1
}

/// An environment value; TOML numbers and booleans are accepted for convenience.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum EnvValue {
    String(String),
    Integer(i64),
    Bool(bool),
}

impl std::fmt::Display for EnvValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnvValue::String(s) => f.write_str(s),
            EnvValue::Integer(i) => write!(f, "{i}"),
            EnvValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// Where a manifest came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    Embedded,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Embedded => f.write_str("(built-in brigade.toml)"),
        }
    }
}

impl Manifest {
    /// Loads `path` when given; else `./brigade.toml` when it exists; else `embedded`.
    /// `built_in` names the services that need no `command` ([`Manifest::parse`]).
    pub fn load(
        path: Option<&Path>,
        embedded: &str,
        built_in: &[String],
    ) -> Result<(Manifest, Origin), Error> {
        let path = match path {
            Some(path) => Some(path.to_path_buf()),
            None => Some(PathBuf::from(FILE_NAME)).filter(|p| p.is_file()),
        };
        match path {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
                    path: path.clone(),
                    source,
                })?;
                let origin = Origin::File(path);
                Ok((
                    Manifest::parse(&text, &origin.to_string(), built_in)?,
                    origin,
                ))
            }
            None => Ok((
                Manifest::parse(embedded, &Origin::Embedded.to_string(), built_in)?,
                Origin::Embedded,
            )),
        }
    }

    /// Parses and validates manifest text; `origin` names it in errors. A service named in
    /// `built_in` (the ones `brigade run` knows) may leave out `command`; any other needs one.
    pub fn parse(text: &str, origin: &str, built_in: &[String]) -> Result<Manifest, Error> {
        let manifest: Manifest = toml::from_str(text).map_err(|source| Error::Parse {
            origin: origin.to_owned(),
            source: Box::new(source),
        })?;
        manifest
            .validate(built_in)
            .map_err(|detail| Error::Invalid {
                origin: origin.to_owned(),
                detail,
            })?;
        Ok(manifest)
    }

    fn validate(&self, built_in: &[String]) -> Result<(), String> {
        if let Some(url) = &self.events.nats {
            if !(url.starts_with("nats://") || url.starts_with("tls://")) {
                return Err(format!(
                    "[events] nats = `{url}` must be a NATS URL such as nats://127.0.0.1:4222"
                ));
            }
        }
        if let Some(namespace) = &self.events.namespace {
            if !is_valid_namespace(namespace) {
                return Err(format!(
                    "[events] namespace `{namespace}` must be 1 to 32 characters of a-z, A-Z, 0-9, _ and -"
                ));
            }
        }
        let mut names = HashSet::new();
        let mut ports = HashSet::new();
        for service in &self.services {
            let name = &service.name;
            if !is_valid_service_name(name) {
                return Err(service_name_rule(name));
            }
            if !names.insert(name.as_str()) {
                return Err(format!("service `{name}` is listed twice"));
            }
            if service.instances > MAX_INSTANCES {
                return Err(format!(
                    "service `{name}` asks for {} instances; at most {MAX_INSTANCES}",
                    service.instances
                ));
            }
            // Several instances may share a fixed port: `brigade up` lets them listen on it
            // together (SO_REUSEPORT), and the kernel spreads connections between them.
            if let Some(port) = service.port {
                if port != 0 && !ports.insert(port) {
                    return Err(format!("port {port} is given to more than one service"));
                }
            }
            match &service.command {
                Some(command) if command.is_empty() || command[0].is_empty() => {
                    return Err(format!("service `{name}` has an empty `command`"));
                }
                Some(_) => {}
                None if !built_in.contains(name) => {
                    return Err(format!(
                        "`brigade run` does not know service `{name}` (it knows {}); give it a `command`",
                        built_in.join(", ")
                    ));
                }
                None => {}
            }
            for key in service.env.keys() {
                if key.is_empty() || key.contains('=') || key.contains('\0') {
                    return Err(format!(
                        "service `{name}` has an invalid environment variable name `{key}`"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The service called `name`.
    pub fn service_mut(&mut self, name: &str) -> Option<&mut ServiceSpec> {
        self.services.iter_mut().find(|s| s.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `brigade run` knows, as far as these tests need.
    fn built_in() -> Vec<String> {
        ["catalog", "cart", "gateway"].map(str::to_owned).to_vec()
    }

    fn parse(text: &str) -> Result<Manifest, Error> {
        Manifest::parse(text, "test", &built_in())
    }

    fn invalid(text: &str) -> String {
        match parse(text) {
            Err(Error::Invalid { detail, .. }) => detail,
            Err(Error::Parse { source, .. }) => source.to_string(),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn the_events_table_chooses_nats() {
        let manifest = parse(
            "[events]\nnats = \"nats://127.0.0.1:4222\"\nnamespace = \"shop-1\"\n[[service]]\nname = \"catalog\"\n",
        )
        .unwrap();
        assert_eq!(
            manifest.events.nats.as_deref(),
            Some("nats://127.0.0.1:4222")
        );
        assert_eq!(manifest.events.namespace.as_deref(), Some("shop-1"));
        assert!(invalid("[events]\nnats = \"http://x:4222\"\n").contains("must be a NATS URL"));
        assert!(invalid("[events]\nnamespace = \"a.b\"\n").contains("namespace `a.b`"));
        assert!(invalid("[events]\nbroker = \"x\"\n").contains("unknown field"));
    }

    #[test]
    fn the_chaos_table_turns_fault_injection_on() {
        let on = parse("[chaos]\nenabled = true\n").unwrap();
        assert!(on.chaos.enabled);
        assert!(invalid("[chaos]\nrate = 1\n").contains("unknown field"));
    }

    #[test]
    fn env_values_may_be_strings_numbers_or_booleans() {
        let manifest =
            parse("[[service]]\nname = \"catalog\"\n[service.env]\nA = \"x\"\nB = 3\nC = true\n")
                .unwrap();
        let env: Vec<String> = manifest.services[0]
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(env, ["A=x", "B=3", "C=true"]);
        assert_eq!(manifest.services[0].instances, 1);
    }

    #[test]
    fn mistakes_are_explained() {
        // Each a service table: what follows `[[service]]`.
        for (service, explanation) in [
            ("name = \"Catalog\"", "a-z, 0-9"),
            (
                "name = \"catalog\"\n[[service]]\nname = \"catalog\"",
                "twice",
            ),
            (
                "name = \"catalog\"\nport = 9000\n[[service]]\nname = \"cart\"\nport = 9000",
                "more than one service",
            ),
            ("name = \"wishlist\"", "give it a `command`"),
            ("name = \"catalog\"\ninstance = 2", "unknown field"),
            ("name = \"x\"\ncommand = []", "empty `command`"),
            ("name = \"catalog\"\ninstances = 1000", "at most"),
        ] {
            let error = invalid(&format!("[[service]]\n{service}\n"));
            assert!(error.contains(explanation), "{service:?}: {error}");
        }
    }

    #[test]
    fn other_programs_run_with_a_command() {
        let manifest =
            parse("[[service]]\nname = \"echo\"\ncommand = [\"sh\", \"-c\", \"echo hi\"]\n")
                .unwrap();
        assert_eq!(
            manifest.services[0].command.as_deref().map(<[String]>::len),
            Some(3)
        );
    }
}
