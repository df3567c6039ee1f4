//! The manifest as the `brigade` binary reads it: the types, parsing and rules of
//! `brigade-manifest`, with what only this binary knows, the compiled-in `brigade.toml` and the
//! services `brigade run` knows (a manifest may run those without a `command`).

use std::path::Path;

pub use brigade_manifest::{is_valid_namespace, Error, Manifest, Origin, ServiceSpec};

/// The repository's `brigade.toml`, used when no manifest file is given or found (compiled in
/// once, by the harness that starts systems for the benchmarks and tests).
pub const EMBEDDED: &str = brigade_operator::harness::MANIFEST;

/// Services `brigade run` knows (its subcommands); any other needs a `command`.
pub fn built_in() -> Vec<String> {
    use clap::CommandFactory;
    crate::run::RunCommand::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect()
}

/// Loads `path` when given; else `./brigade.toml` when it exists; else the built-in one.
pub fn load(path: Option<&Path>) -> Result<(Manifest, Origin), Error> {
    Manifest::load(path, EMBEDDED, &built_in())
}

/// Parses and validates manifest text; `origin` names it in errors. The binary reads manifests
/// through [`load`]; tests give theirs as text.
#[cfg(test)]
pub fn parse(text: &str, origin: &str) -> Result<Manifest, Error> {
    Manifest::parse(text, origin, &built_in())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_manifest_runs_every_service_and_the_edges_last() {
        let manifest = parse(EMBEDDED, "embedded").unwrap();
        let names: Vec<(&str, u32, Option<u16>)> = manifest
            .services
            .iter()
            .map(|s| (s.name.as_str(), s.instances, s.port))
            .collect();
        assert_eq!(
            names,
            vec![
                ("catalog", 2, None),
                ("users", 1, None),
                ("inventory", 1, None),
                ("payments", 1, None),
                ("cart", 1, None),
                ("shipping", 1, None),
                ("currency", 1, None),
                ("orders", 2, None),
                ("recommendations", 1, None),
                ("notifications", 1, None),
                ("gateway", 1, Some(8080)),
                ("storefront", 1, Some(8000))
            ]
        );
        assert_eq!(
            manifest.events,
            brigade_manifest::EventsSpec::default(),
            "embedded events by default"
        );
        assert!(!manifest.chaos.enabled);
    }

    #[test]
    fn a_service_brigade_run_does_not_know_needs_a_command() {
        let error = parse("[[service]]\nname = \"wishlist\"\n", "test").unwrap_err();
        assert!(error.to_string().contains("not valid"), "{error}");
        assert!(parse("[[service]]\nname = \"orders\"\n", "test").is_ok());
    }
}
