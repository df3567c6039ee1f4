//! The manifest (`brigade.toml`), as `brigade up` reads it.
//!
//! Properties: text that is not a manifest is an error that explains itself, never a panic; a
//! manifest that is accepted keeps the rules `brigade up` relies on (valid and unique service
//! names, at most the instance limit, no fixed port given twice, a command for every service
//! `brigade run` does not know, usable environment names).
#![no_main]

use std::collections::HashSet;

use brigade_manifest::{Manifest, MAX_INSTANCES};
use libfuzzer_sys::fuzz_target;

/// Services `brigade run` knows, as far as this target needs (the real list is the binary's).
const BUILT_IN: [&str; 3] = ["catalog", "gateway", "orders"];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let built_in: Vec<String> = BUILT_IN.map(str::to_owned).to_vec();
    let manifest = match Manifest::parse(text, "fuzz", &built_in) {
        Ok(manifest) => manifest,
        Err(error) => {
            assert!(!error.to_string().is_empty());
            return;
        }
    };
    let mut names = HashSet::new();
    let mut ports = HashSet::new();
    for service in &manifest.services {
        assert!(brigade_registry::is_valid_service_name(&service.name));
        assert!(names.insert(service.name.clone()), "{} twice", service.name);
        assert!(service.instances <= MAX_INSTANCES);
        if let Some(port) = service.port.filter(|&p| p != 0) {
            assert!(ports.insert(port), "port {port} twice");
        }
        match &service.command {
            Some(command) => assert!(command.first().is_some_and(|program| !program.is_empty())),
            None => assert!(built_in.contains(&service.name)),
        }
        for (key, value) in &service.env {
            assert!(!key.is_empty() && !key.contains('=') && !key.contains('\0'));
            let _ = value.to_string();
        }
    }
    if let Some(namespace) = &manifest.events.namespace {
        assert!(brigade_manifest::is_valid_namespace(namespace));
    }
});
