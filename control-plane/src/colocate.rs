//! `brigade up --colocate`: every instance of the built-in services in one process, to measure
//! what the split into processes costs (the "microservice tax" of Service Weaver's paper).
//!
//! `up` folds the instances it would start as `brigade run SERVICE` into one supervised process,
//! `brigade colocated` ([`run`]), with each instance's command line and environment in a plan
//! ([`PLAN_ENV`]). That process starts every instance as `brigade run` would — the same `build`,
//! its own store, data and event consumers, its own listener and registration (so the gateway
//! and the storefront keep their ports, and status, the console and `brigade check` work) — but
//! their clients call each other in-process ([`brigade_chassis::client::Colocated`]), through
//! the same policies. Events still go through each producer's outbox and its feed, read
//! in-process. Instances with their own `command` stay separate processes, called over HTTP.
//!
//! What is given up is what the split buys: one instance crashing, or killed, takes every
//! other down with it (the supervisor restarts the whole process), and nothing can be deployed,
//! restarted or scaled alone.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context as _;
use brigade_chassis::client::Colocated;
use brigade_chassis::service::env_as_flags;
use brigade_chassis::shutdown::{self, Reason};
use brigade_supervisor::ProcessSpec;
use clap::{CommandFactory, Parser};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::run::RunCommand;

/// The environment variable that carries the plan to `brigade colocated`.
pub const PLAN_ENV: &str = "BRIGADE_COLOCATED_PLAN";

/// The supervisor's group of the one process, and its subcommand.
pub const GROUP: &str = "colocated";
/// The supervisor's slot of the one process.
pub const SLOT: &str = "colocated-1";

/// One instance of the plan: what `brigade run` would have been given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Its slot, e.g. `catalog-2`, which names it in `up`'s output and its instance id.
    pub slot: String,
    pub service: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// The instance id of the member in `slot` when the process runs as `process_id`: the
/// process's suffix after the slot's (`catalog-2-1a2b3c4d` in `colocated-1-1a2b3c4d`), so that
/// each start gives every member a new id, and `up` knows them without being told.
pub fn member_instance_id(slot: &str, process_id: &str) -> String {
    let suffix = process_id.rsplit('-').next().unwrap_or(process_id);
    format!("{slot}-{suffix}")
}

/// Folds the processes `up` would start as `brigade run SERVICE` (with `exe`) into one
/// `brigade colocated` process; the others (a manifest's own `command`) stay as they are.
/// Returns the processes to start and the slots of the members of the colocated one.
pub fn fold(
    specs: Vec<ProcessSpec>,
    exe: &Path,
) -> anyhow::Result<(Vec<ProcessSpec>, Vec<String>)> {
    let mut members = Vec::new();
    let mut rest = Vec::new();
    let mut parent_env = Vec::new();
    for spec in specs {
        match (spec.program == exe, spec.args.as_slice()) {
            (true, [run, service, args @ ..]) if run == "run" => {
                parent_env = spec
                    .env
                    .iter()
                    .filter(|(k, _)| k == "BRIGADE_PARENT_PID")
                    .cloned()
                    .collect();
                members.push(Member {
                    slot: spec.slot.clone(),
                    service: service.clone(),
                    args: args.to_vec(),
                    env: spec.env.clone(),
                });
            }
            _ => rest.push(spec),
        }
    }
    if members.is_empty() {
        return Ok((rest, Vec::new()));
    }
    let slots = members.iter().map(|m| m.slot.clone()).collect();
    let mut env = parent_env;
    env.push((
        PLAN_ENV.to_owned(),
        serde_json::to_string(&members).context("cannot write the colocated plan")?,
    ));
    // First: it serves what the others call, as the manifest's order has it.
    let mut specs = vec![ProcessSpec {
        slot: SLOT.to_owned(),
        group: GROUP.to_owned(),
        program: exe.to_path_buf(),
        args: vec![GROUP.to_owned()],
        env,
        instance_id_env: Some("BRIGADE_INSTANCE_ID".to_owned()),
    }];
    specs.extend(rest);
    Ok((specs, slots))
}

/// `brigade colocated`: serves every member of the plan in this process until SIGTERM, Ctrl-C
/// or the supervisor going away; when one instance stops by itself, it stops the others and
/// fails, so that the supervisor starts them all again.
pub async fn run() -> anyhow::Result<()> {
    let plan = std::env::var(PLAN_ENV).with_context(|| {
        format!("{PLAN_ENV} is not set: `brigade colocated` is started by `brigade up --colocate`")
    })?;
    let members: Vec<Member> =
        serde_json::from_str(&plan).with_context(|| format!("{PLAN_ENV} is not a plan"))?;
    let process_id = std::env::var("BRIGADE_INSTANCE_ID").unwrap_or_else(|_| format!("{SLOT}-0"));
    let parent = std::env::var("BRIGADE_PARENT_PID")
        .ok()
        .and_then(|p| p.parse().ok());
    let colocated = Colocated::new();
    let (stop, stopped) = watch::channel(None::<Reason>);
    let mut instances = JoinSet::new();
    for member in members {
        let service = parse(&member, &process_id)?;
        let mut stopped = stopped.clone();
        let shutdown = async move {
            match stopped.wait_for(Option::is_some).await {
                Ok(reason) => (*reason).unwrap_or(Reason::Requested),
                Err(_) => Reason::Requested,
            }
        };
        let colocated = colocated.clone();
        instances.spawn(async move {
            let outcome = crate::run::run_colocated(service, colocated, shutdown).await;
            (member.slot, outcome)
        });
    }
    let mut failed = Vec::new();
    tokio::select! {
        reason = shutdown::signal(parent) => { stop.send_replace(Some(reason)); }
        Some(ended) = instances.join_next() => {
            failed.push(describe(ended));
            stop.send_replace(Some(Reason::Requested));
        }
    }
    while let Some(ended) = instances.join_next().await {
        if let Some(failure) = describe(ended) {
            failed.push(Some(failure));
        }
    }
    let failed: Vec<String> = failed.into_iter().flatten().collect();
    anyhow::ensure!(failed.is_empty(), "{}", failed.join("; "));
    Ok(())
}

/// Why an instance's task ended, when it was not a clean stop asked for.
fn describe(ended: Result<(String, anyhow::Result<()>), tokio::task::JoinError>) -> Option<String> {
    match ended {
        Ok((_, Ok(()))) => None,
        Ok((slot, Err(error))) => Some(format!("{slot}: {error:#}")),
        Err(error) => Some(format!("an instance's task failed: {error}")),
    }
}

/// The member's flags as `brigade run` would parse them in a process of its own, its
/// environment given as the flags it stands for (the process has one environment for all).
fn parse(member: &Member, process_id: &str) -> anyhow::Result<crate::run::Service> {
    let mut env: Vec<(String, String)> = member.env.clone();
    env.push((
        "BRIGADE_INSTANCE_ID".to_owned(),
        member_instance_id(&member.slot, process_id),
    ));
    let command = RunCommand::command();
    let subcommand = command
        .find_subcommand(&member.service)
        .with_context(|| format!("`brigade run` knows no service `{}`", member.service))?;
    let mut argv = vec!["run".to_owned(), member.service.clone()];
    argv.extend(member.args.iter().cloned());
    argv.extend(env_as_flags(subcommand, &member.args, &env));
    let parsed = RunCommand::try_parse_from(&argv)
        .with_context(|| format!("the flags of {} are not valid", member.slot))?;
    Ok(parsed.service)
}

/// The members' slots by the instance id each has when the process runs as `process_id`.
pub fn member_ids<'a>(slots: &'a [String], process_id: &str) -> HashMap<String, &'a str> {
    slots
        .iter()
        .map(|slot| (member_instance_id(slot, process_id), slot.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn spec(slot: &str, program: &str, args: &[&str]) -> ProcessSpec {
        ProcessSpec {
            slot: slot.into(),
            group: slot.rsplit_once('-').map_or(slot, |(g, _)| g).into(),
            program: PathBuf::from(program),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: vec![
                ("BRIGADE_LISTEN".into(), "127.0.0.1:0".into()),
                ("BRIGADE_PARENT_PID".into(), "42".into()),
            ],
            instance_id_env: Some("BRIGADE_INSTANCE_ID".into()),
        }
    }

    #[test]
    fn built_in_instances_fold_into_one_process_and_others_stay() {
        let exe = Path::new("/bin/brigade");
        let specs = vec![
            spec(
                "catalog-1",
                "/bin/brigade",
                &["run", "catalog", "--no-seed"],
            ),
            spec(
                "catalog-2",
                "/bin/brigade",
                &["run", "catalog", "--no-seed"],
            ),
            spec("mine-1", "./mine", &["--flag"]),
        ];
        let (specs, members) = fold(specs, exe).unwrap();
        assert_eq!(members, ["catalog-1", "catalog-2"]);
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].slot, "colocated-1");
        assert_eq!(specs[0].args, ["colocated"]);
        assert_eq!(specs[1].slot, "mine-1");
        let plan = &specs[0].env.iter().find(|(k, _)| k == PLAN_ENV).unwrap().1;
        let plan: Vec<Member> = serde_json::from_str(plan).unwrap();
        assert_eq!(plan[1].slot, "catalog-2");
        assert_eq!(plan[1].args, ["--no-seed"]);
        assert!(specs[0]
            .env
            .contains(&("BRIGADE_PARENT_PID".into(), "42".into())));
    }

    #[test]
    fn each_member_is_parsed_with_its_own_environment_and_id() {
        let member = Member {
            slot: "catalog-2".into(),
            service: "catalog".into(),
            args: vec!["--no-seed".into()],
            env: vec![
                ("BRIGADE_LISTEN".into(), "127.0.0.1:9002".into()),
                ("BRIGADE_CHAOS".into(), "true".into()),
            ],
        };
        let crate::run::Service::Catalog(flags) = parse(&member, "colocated-1-abcd1234").unwrap()
        else {
            panic!("not the catalog");
        };
        assert_eq!(flags.service.listen.unwrap().port(), 9002);
        assert!(flags.service.chaos);
        assert_eq!(
            flags.service.instance_id.as_deref(),
            Some("catalog-2-abcd1234")
        );
        assert_eq!(
            member_ids(&["catalog-2".to_owned()], "colocated-1-abcd1234")["catalog-2-abcd1234"],
            "catalog-2"
        );
    }
}
