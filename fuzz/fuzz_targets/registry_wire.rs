//! The registry's wire types, both ways: what an instance sends it (a registration body under an
//! instance id from the URL, a blocking query's string) and what the chassis's discovery client
//! reads back (a service's instances, the catalogue). The first byte picks which; for a
//! registration the text before the first newline is the instance id.
//!
//! Properties: a registration is either refused with a 4xx problem or stored exactly as sent
//! and listed under its service; a query that decodes is within its types; answers that decode
//! write back and decode to the same value.
#![no_main]

use brigade_chassis::discovery::api::{Catalogue, Registration, ServiceInstances};
use brigade_chassis::extract::{json_body, query_string};
use brigade_chassis::Problem;
use brigade_fuzz::{is_a_callers_problem, json_round_trips, pick_route, uri_with_query};
use brigade_registry::{Registry, WaitQuery};
use libfuzzer_sys::fuzz_target;

fn register(input: &[u8]) {
    let split = input
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(input.len());
    let (id, body) = input.split_at(split);
    let body = body.get(1..).unwrap_or_default();
    // A path segment is text by the time the route has it.
    let Ok(instance_id) = std::str::from_utf8(id) else {
        return;
    };
    let registration = match json_body::<Registration>(body) {
        Ok(registration) => registration,
        Err(problem) => {
            assert!(is_a_callers_problem(&problem), "{problem:?}");
            return;
        }
    };
    // Outside a runtime the registry starts no sweeper: each input gets a registry of its own.
    let registry = Registry::new();
    match registry.register(instance_id, registration.clone()) {
        Ok(record) => {
            assert_eq!(record.registration, registration);
            assert_eq!(registry.instance(instance_id), Some(record.clone()));
            let listed = registry.service(&registration.service);
            assert!(listed.instances.contains(&record), "{listed:?}");
            assert!(json_round_trips(&record));
        }
        Err(error) => {
            let problem = Problem::from(error);
            assert!(is_a_callers_problem(&problem), "{problem:?}");
        }
    }
}

fn wait_query(query: &[u8]) {
    let Some(uri) = uri_with_query(query) else {
        return;
    };
    if let Err(problem) = query_string::<WaitQuery>(&uri) {
        assert!(is_a_callers_problem(&problem), "{problem:?}");
    }
}

fn answers(body: &[u8]) {
    if let Ok(instances) = serde_json::from_slice::<ServiceInstances>(body) {
        assert!(json_round_trips(&instances));
    }
    if let Ok(catalogue) = serde_json::from_slice::<Catalogue>(body) {
        assert!(json_round_trips(&catalogue));
    }
}

fuzz_target!(|data: &[u8]| pick_route(data, &[register, wait_query, answers]));
