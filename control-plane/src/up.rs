//! `brigade up`: the whole system on this machine, from a manifest.
//!
//! In order: read the manifest; listen on the control port (registry, console, system API, in
//! this process); start every instance as a child process (`brigade run SERVICE`, or the
//! manifest's `command`) under the supervisor; report each instance as it becomes ready (it has
//! registered, and its `/readyz` answers 200) and the time until all are; then wait for Ctrl-C,
//! SIGTERM or SIGHUP and stop the services in the reverse of the manifest's order (the gateway
//! first), each with SIGTERM and, after a grace period, SIGKILL. A second signal kills at once.

use std::collections::{HashMap, HashSet};
use std::future::IntoFuture;
use std::io::IsTerminal;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use brigade_chassis::client::plain::PlainClient;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::colocate;
use crate::manifest::{Manifest, ServiceSpec};
use crate::stores::{self, Stores};
use brigade_chassis::db::provision::PostgresServer;
use brigade_operator::console_data::{Options as ConsoleOptions, Scraper, Series as ConsoleSeries};
use brigade_operator::credential::{OperatorCredential, Origin as CredentialOrigin};
use brigade_operator::logs::{LogStore, Source};
use brigade_operator::operator_auth::Gate;
use brigade_operator::output::{human_duration, Printer};
use brigade_operator::system::{self, Health, Sources};
use brigade_registry::Registry;

use crate::identity::LocalAuthority;
use brigade_supervisor::{Backoff, Event, ProcessSpec, Stream, Supervisor};

/// Options of `brigade up`.
#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// The manifest to run [default: ./brigade.toml when it exists, else the built-in one].
    #[arg(long, env = "BRIGADE_MANIFEST")]
    pub manifest: Option<PathBuf>,

    /// Port on 127.0.0.1 for the control plane: registry, console and API (0 picks a free one).
    #[arg(long, env = "BRIGADE_CONTROL_PORT", default_value_t = 7070)]
    pub control_port: u16,

    /// Port on 127.0.0.1 for the gateway (0 picks a free one) [default: the manifest's, 8080].
    #[arg(long, env = "BRIGADE_GATEWAY_PORT")]
    pub gateway_port: Option<u16>,

    /// Port on 127.0.0.1 for the storefront, the shop's pages (0 picks a free one; ignored when
    /// the manifest runs no storefront, so that one command starts any manifest) [default: the
    /// manifest's, 8000].
    #[arg(long, env = "BRIGADE_STOREFRONT_PORT")]
    pub storefront_port: Option<u16>,

    /// Directory for the system's state; each service's default SQLite store goes in DATA_DIR/data.
    #[arg(long, env = "BRIGADE_DATA_DIR", default_value = brigade_operator::credential::DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,

    /// How long to wait for every instance to become ready before saying which are not.
    #[arg(long, env = "BRIGADE_READY_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub ready_timeout: Duration,

    /// Carry events through NATS JetStream at this URL (e.g. nats://127.0.0.1:4222) instead of
    /// the embedded transport [default: the manifest's `[events] nats`, else embedded].
    #[arg(long, env = "BRIGADE_NATS_URL")]
    pub nats: Option<String>,

    /// Run every service that keeps a store on a PostgreSQL database of its own on this server
    /// (PREFIX_SERVICE, created when missing), e.g. postgres://postgres@127.0.0.1:5432; a server
    /// that cannot be reached stops `up` before any service starts [default: a SQLite file per
    /// service in DATA_DIR/data].
    #[arg(long, env = "BRIGADE_POSTGRES_URL", hide_env_values = true, value_parser = crate::stores::parse_server)]
    pub postgres: Option<PostgresServer>,

    /// Prefix of the databases `--postgres` uses (PREFIX_SERVICE), so that several systems can
    /// share one PostgreSQL server.
    #[arg(long, env = "BRIGADE_POSTGRES_PREFIX", default_value = "brigade", value_parser = crate::stores::parse_prefix)]
    pub postgres_prefix: String,

    /// PostgreSQL and NATS JetStream, as in production: `--postgres` defaults to
    /// postgres://127.0.0.1:5432 and `--nats` (then the manifest's) to nats://127.0.0.1:4222.
    #[arg(long, env = "BRIGADE_PRODUCTION_LIKE")]
    pub production_like: bool,

    /// Prefix of the JetStream streams and subjects, so that several systems can share one NATS
    /// server [default: the manifest's `[events] namespace`, else `brigade`].
    #[arg(long, env = "BRIGADE_EVENTS_NAMESPACE")]
    pub events_namespace: Option<String>,

    /// Turn fault injection on: every instance serves `/v1/chaos` (BRIGADE_CHAOS=true) and the
    /// control plane takes kills and pauses, for `brigade chaos` [default: the manifest's
    /// `[chaos] enabled`, else off].
    #[arg(long, env = "BRIGADE_CHAOS")]
    pub chaos: bool,

    /// Print every request's `served` line too (they are always kept for `brigade logs` and
    /// the console; by default the terminal shows everything else).
    #[arg(long, env = "BRIGADE_PRINT_REQUESTS")]
    pub print_requests: bool,

    /// Run every instance of the built-in services in one process (`brigade colocated`), calling
    /// each other in-process through the same client policies instead of over HTTP: to measure
    /// what the split into processes costs. Ports, status, the console and `check` are
    /// unchanged; fault isolation is gone (one crash restarts them all).
    #[arg(long, env = "BRIGADE_COLOCATE")]
    pub colocate: bool,

    /// Instances call each other over loopback TCP only, not through the Unix sockets they
    /// otherwise also serve on in DATA_DIR/sockets (to compare the two, or where the data
    /// directory cannot hold sockets).
    #[arg(long, env = "BRIGADE_TCP_ONLY")]
    pub tcp_only: bool,

    /// How long each service may take to stop after SIGTERM before it gets SIGKILL.
    #[arg(long, env = "BRIGADE_STOP_GRACE", default_value = "2s", value_parser = humantime::parse_duration)]
    pub stop_grace: Duration,

    /// How often the console scrapes every instance's /metrics (200ms to 60s; it keeps the
    /// last 10 minutes).
    #[arg(long, env = "BRIGADE_CONSOLE_SCRAPE_INTERVAL", default_value = "2s", value_parser = console_scrape_interval)]
    pub console_scrape_interval: ConsoleOptions,

    /// How long the service identity tokens the control plane mints live (10s to 1h); instances
    /// renew theirs two thirds of the way through.
    #[arg(long, env = "BRIGADE_IDENTITY_TOKEN_LIFE", default_value = "5m", value_parser = identity_token_life)]
    pub identity_token_life: Duration,

    /// How often the control plane rotates the key that signs service identities (at least
    /// 5s): the next key is published before it signs, the old one kept until its tokens expire.
    #[arg(long, env = "BRIGADE_IDENTITY_ROTATE_EVERY", default_value = "1h", value_parser = identity_rotate_every)]
    pub identity_rotate_every: Duration,
}

fn identity_token_life(text: &str) -> Result<Duration, String> {
    let life = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if !(Duration::from_secs(10)..=Duration::from_secs(3600)).contains(&life) {
        return Err("must be between 10s and 1h".to_owned());
    }
    Ok(life)
}

fn identity_rotate_every(text: &str) -> Result<Duration, String> {
    let every = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if every < Duration::from_secs(5) {
        return Err("must be at least 5s".to_owned());
    }
    Ok(every)
}

fn console_scrape_interval(text: &str) -> Result<ConsoleOptions, String> {
    let interval = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    ConsoleOptions::every(interval).map_err(|e| e.to_string())
}

/// What the supervisor's observer and the readiness probes share.
struct Shared {
    registry: Registry,
    printer: Arc<Printer>,
    client: PlainClient,
    clock: Instant,
    /// Slots that have been ready at least once.
    ready: watch::Sender<HashSet<String>>,
    /// Each starting instance's readiness probe, by instance id, to stop when it exits.
    probes: Mutex<HashMap<String, AbortHandle>>,
    /// The slots of the instances served together by the colocated process (`--colocate`).
    members: Vec<String>,
}

impl Shared {
    /// Called by the supervisor the moment a process starts or exits.
    fn on_event(self: &Arc<Self>, event: &Event) {
        match event {
            Event::Started {
                slot,
                instance_id,
                pid,
                restarts,
                ..
            } => {
                if *restarts == 0 {
                    self.printer
                        .say(format_args!("starting {slot} (pid {pid})"));
                } else {
                    self.printer.say(format_args!(
                        "restarted {slot} as {instance_id} (pid {pid}, restart {restarts})"
                    ));
                }
                for (instance_id, slot) in self.instances_of(slot, instance_id) {
                    let probe = tokio::spawn(self.clone().wait_until_ready(
                        slot.to_owned(),
                        instance_id.clone(),
                        *restarts,
                    ));
                    if let Ok(mut probes) = self.probes.lock() {
                        probes.insert(instance_id, probe.abort_handle());
                    }
                }
            }
            Event::Exited {
                slot,
                instance_id,
                status,
                ran_for,
                restart_in,
                ..
            } => {
                for (instance_id, _) in self.instances_of(slot, instance_id) {
                    // Callers must stop being sent there now, not when its lease would run out.
                    self.registry.deregister(&instance_id);
                    if let Some(probe) = self
                        .probes
                        .lock()
                        .ok()
                        .and_then(|mut p| p.remove(&instance_id))
                    {
                        probe.abort();
                    }
                }
                match restart_in {
                    Some(delay) => self.printer.say(format_args!(
                        "{slot} exited ({status}) after {}; restarting in {}",
                        human_duration(*ran_for),
                        human_duration(*delay)
                    )),
                    None => self.printer.say(format_args!("{slot} stopped ({status})")),
                }
            }
            Event::SpawnFailed {
                error, restart_in, ..
            } => {
                let retry = restart_in.map_or(String::new(), |d| {
                    format!("; retrying in {}", human_duration(d))
                });
                self.printer.say(format_args!("{error}{retry}"));
            }
        }
    }

    /// The instances (id, slot) that the process of `slot` started as `instance_id` serves:
    /// itself, or every member of the colocated process.
    fn instances_of<'a>(&'a self, slot: &'a str, instance_id: &str) -> Vec<(String, &'a str)> {
        if slot == colocate::SLOT {
            colocate::member_ids(&self.members, instance_id)
                .into_iter()
                .collect()
        } else {
            vec![(instance_id.to_owned(), slot)]
        }
    }

    /// Polls until `instance_id` has registered and its `/readyz` answers 200, then reports it.
    async fn wait_until_ready(self: Arc<Self>, slot: String, instance_id: String, restarts: u32) {
        let started = Instant::now();
        loop {
            if let Some(record) = self.registry.instance(&instance_id) {
                let address = record.registration.address;
                if system::probe(&self.client, &address).await.0 == Health::Ready {
                    if restarts == 0 {
                        self.printer.say(format_args!(
                            "✓ {slot} ready on {address} ({instance_id}) at {}",
                            human_duration(self.clock.elapsed())
                        ));
                    } else {
                        self.printer.say(format_args!(
                            "✓ {slot} ready again on {address} ({instance_id}) after {}",
                            human_duration(started.elapsed())
                        ));
                    }
                    self.ready.send_modify(|ready| {
                        ready.insert(slot);
                    });
                    if let Ok(mut probes) = self.probes.lock() {
                        probes.remove(&instance_id);
                    }
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// SIGINT (Ctrl-C), SIGTERM and SIGHUP, as one stream.
struct Signals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "Ctrl-C",
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.hangup.recv() => "SIGHUP",
        }
    }
}

/// The environment every instance gets from brigade, before the manifest's own.
struct Wiring {
    registry_url: String,
    data_dir: PathBuf,
    /// `embedded` or the NATS URL.
    events: String,
    events_namespace: String,
    /// Fault injection on in every instance.
    chaos: bool,
    /// Each service's store URL when it is not the default SQLite file.
    databases: std::collections::BTreeMap<String, String>,
    /// Where instances export spans: the control port's receiver, unless the user pointed
    /// them elsewhere (then their OTEL_* variables reach the instances unchanged).
    otlp_endpoint: Option<String>,
    /// The users service's key-encryption key file (`crate::secrets`).
    key_encryption_key_file: Option<PathBuf>,
    /// Where instances also serve on Unix sockets (`brigade_chassis::local_socket`).
    local_socket_dir: Option<PathBuf>,
}

/// The control port as the instances' OTLP endpoint, unless the user set an OTLP endpoint of
/// their own in brigade's environment (read through `env`).
fn default_otlp_endpoint(
    control_url: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let set = |name: &str| env(name).is_some_and(|v| !v.trim().is_empty());
    (!set("OTEL_EXPORTER_OTLP_ENDPOINT") && !set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
        .then(|| control_url.to_owned())
}

/// Every process to start, with `colocate` the members folded into one (named in the second
/// part).
fn instance_specs(
    manifest: &Manifest,
    wiring: &Wiring,
    exe: &std::path::Path,
    colocate: bool,
) -> anyhow::Result<(Vec<ProcessSpec>, Vec<String>)> {
    let specs = process_specs(manifest, wiring, exe);
    match colocate {
        true => colocate::fold(specs, exe),
        false => Ok((specs, Vec::new())),
    }
}

fn process_specs(manifest: &Manifest, wiring: &Wiring, exe: &std::path::Path) -> Vec<ProcessSpec> {
    let mut specs = Vec::new();
    for service in &manifest.services {
        // The manifest has refused an empty `command`, so `split_first` finds a program.
        let (program, mut args) = match service.command.as_deref().and_then(<[String]>::split_first)
        {
            Some((program, rest)) => (PathBuf::from(program), rest.to_vec()),
            None => (
                exe.to_path_buf(),
                vec!["run".to_owned(), service.name.clone()],
            ),
        };
        args.extend(service.args.iter().cloned());
        for n in 1..=service.instances {
            specs.push(ProcessSpec {
                slot: format!("{}-{n}", service.name),
                group: service.name.clone(),
                program: program.clone(),
                args: args.clone(),
                env: instance_env(service, wiring),
                instance_id_env: Some("BRIGADE_INSTANCE_ID".to_owned()),
            });
        }
    }
    specs
}

fn instance_env(service: &ServiceSpec, wiring: &Wiring) -> Vec<(String, String)> {
    let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, service.port.unwrap_or(0)));
    let mut env: Vec<(String, String)> = vec![
        ("BRIGADE_LISTEN".into(), listen.to_string()),
        ("BRIGADE_REGISTRY_URL".into(), wiring.registry_url.clone()),
        (
            "BRIGADE_DATA_DIR".into(),
            wiring.data_dir.display().to_string(),
        ),
        // Always JSON: the control port reads every line into its log store (trace and span
        // ids, level, fields), and the terminal gets them rendered for people.
        ("BRIGADE_LOG_FORMAT".into(), "json".into()),
        ("BRIGADE_EVENTS".into(), wiring.events.clone()),
        // The built-in registry answers its watchers' blocking queries the moment an instance
        // deregisters, so callers move away within milliseconds; services stop one after the
        // other, so the chassis' default pause (sized for DNS and remote registries) would be
        // paid once per service on every Ctrl-C.
        ("BRIGADE_DEREGISTER_DELAY".into(), "100ms".into()),
        (
            "BRIGADE_EVENTS_NAMESPACE".into(),
            wiring.events_namespace.clone(),
        ),
    ];
    if wiring.chaos {
        env.push(("BRIGADE_CHAOS".into(), "true".into()));
    }
    if let Some(dir) = &wiring.local_socket_dir {
        env.push(("BRIGADE_LOCAL_SOCKET_DIR".into(), dir.display().to_string()));
    }
    if let Some(url) = wiring.databases.get(&service.name) {
        env.push(("BRIGADE_DATABASE_URL".into(), url.clone()));
    }
    if service.port.is_some_and(|p| p != 0) {
        // A rolling restart starts the new process while the old one still listens there, and
        // scaled instances share it.
        env.push(("BRIGADE_REUSE_PORT".into(), "true".into()));
    }
    if let Some(endpoint) = &wiring.otlp_endpoint {
        env.push(("OTEL_EXPORTER_OTLP_ENDPOINT".into(), endpoint.clone()));
    }
    if let (Some(file), "users") = (&wiring.key_encryption_key_file, service.name.as_str()) {
        env.push((
            crate::secrets::KEY_ENCRYPTION_KEY_FILE_ENV.into(),
            file.display().to_string(),
        ));
    }
    // The manifest may override the above; the parent pid (and the instance id, which the
    // supervisor sets per start) it may not: they keep the system's promises.
    for (key, value) in &service.env {
        env.retain(|(k, _)| k != key);
        env.push((key.clone(), value.to_string()));
    }
    env.retain(|(k, _)| k != "BRIGADE_PARENT_PID" && k != "BRIGADE_INSTANCE_ID");
    env.push(("BRIGADE_PARENT_PID".into(), std::process::id().to_string()));
    env
}

/// The event transport the system runs with: flags first, then the manifest.
struct EventsChoice {
    /// The NATS URL, or `None` for the embedded transport.
    url: Option<String>,
}

fn events_transport(args: &UpArgs, manifest: &Manifest) -> anyhow::Result<(EventsChoice, String)> {
    let url = args
        .nats
        .clone()
        .or_else(|| manifest.events.nats.clone())
        .or_else(|| args.production_like.then(|| stores::LOCAL_NATS.to_owned()));
    if let Some(url) = &url {
        brigade_chassis::events::Transport::parse(url)
            .map_err(|e| anyhow::anyhow!("--nats: {e}"))?;
    }
    let namespace = args
        .events_namespace
        .clone()
        .or_else(|| manifest.events.namespace.clone())
        .unwrap_or_else(|| "brigade".to_owned());
    anyhow::ensure!(
        crate::manifest::is_valid_namespace(&namespace),
        "events namespace `{namespace}` must be 1 to 32 characters of a-z, A-Z, 0-9, _ and -"
    );
    Ok((EventsChoice { url }, namespace))
}

/// Fails early, with a clear message, when NATS does not answer: every service would start and
/// then fail to publish or consume.
async fn check_nats_reachable(url: &str) -> anyhow::Result<()> {
    let address = url
        .trim_start_matches("nats://")
        .trim_start_matches("tls://")
        .trim_end_matches('/');
    let address = address.rsplit('@').next().unwrap_or(address);
    match tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(address)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => anyhow::bail!("cannot reach NATS at {url}: {error}; start it, or run without --nats for the embedded transport"),
        Err(_) => anyhow::bail!("cannot reach NATS at {url}: no answer within 3 s; start it, or run without --nats for the embedded transport"),
    }
}

/// Fails early, with a clear message, when a fixed port is taken: the instance would only
/// crash and restart forever.
fn check_port_free(service: &str, port: u16) -> anyhow::Result<()> {
    if port == 0 {
        return Ok(());
    }
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .map(drop)
        .with_context(|| {
            let flag = match service {
                "gateway" => " (or pass --gateway-port)",
                "storefront" => " (or pass --storefront-port)",
                _ => "",
            };
            format!("port {port} for {service} is not free: stop whatever uses it{flag}")
        })
}

/// Runs `brigade up` until a signal stops it.
/// Where the services keep their data, and whether they share one process.
fn say_layout(printer: &Printer, stores_line: &str, colocated: usize) {
    printer.say(format_args!("{stores_line}"));
    if colocated > 0 {
        printer.say(format_args!(
            "colocated: {colocated} instances in one process, calling each other in-process"
        ));
    }
}

/// The slots `up` waits for: every process's, except the colocated process's own, whose
/// members are waited for instead.
fn expected_slots(specs: &[ProcessSpec], members: &[String]) -> HashSet<String> {
    specs
        .iter()
        .map(|s| s.slot.clone())
        .filter(|slot| slot != colocate::SLOT)
        .chain(members.iter().cloned())
        .collect()
}

/// What the control port serves: the registry, the supervisor, the telemetry stores, the
/// console's series and the gate on changes.
// Each argument is one piece `run` made in its own step; a struct gathering them would only
// be this function's argument list again.
#[allow(clippy::too_many_arguments)]
fn control_sources(
    args: &UpArgs,
    manifest: &Manifest,
    registry: &Registry,
    supervisor: &Supervisor,
    control_url: &str,
    logs: LogStore,
    started_at_ms: u64,
    operator: Gate,
) -> Sources {
    Sources {
        registry: registry.clone(),
        supervisor: Some(supervisor.clone()),
        desired: manifest
            .services
            .iter()
            .map(|s| (s.name.clone(), s.instances))
            .collect(),
        control_url: control_url.to_owned(),
        started_at_ms,
        stop_grace: args.stop_grace,
        traces: brigade_operator::traces::TraceStore::new(Default::default()),
        logs,
        metrics: brigade_operator::otlp_metrics::MetricStore::new(Default::default()),
        console: ConsoleSeries::new(args.console_scrape_interval),
        operator,
        acting_operator: None,
    }
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let clock = Instant::now();
    let started_at_ms = brigade_chassis::time::unix_ms();
    let (manifest, origin) = load_manifest(&args)?;
    let (data_dir, store_dir) = prepare_data_dir(&args.data_dir)?;
    let exe = std::env::current_exe()
        .context("cannot find brigade's own executable to start the services")?;
    let listener = bind_control_port(args.control_port).await?;
    check_fixed_ports_free(&manifest)?;
    let control_url = format!("http://{}", listener.local_addr()?);

    let (events, events_namespace) = events_transport(&args, &manifest)?;
    if let Some(url) = &events.url {
        check_nats_reachable(url).await?;
    }
    let postgres = stores::chosen(args.postgres.as_ref(), args.production_like);
    let stores = stores::prepare(postgres.as_ref(), &args.postgres_prefix, &manifest).await?;
    let stores_line = stores.describe(&store_dir);
    // Only once the system can start: a refused `up` leaves no credential behind.
    let (credential, credential_origin) = OperatorCredential::load_or_create(&data_dir)?;
    let credential_file = OperatorCredential::path_in(&data_dir);

    let chaos = args.chaos || manifest.chaos.enabled;
    let terminal = std::io::stdout().is_terminal();
    let wiring = Wiring {
        registry_url: control_url.clone(),
        data_dir: store_dir,
        events: events.url.clone().unwrap_or_else(|| "embedded".to_owned()),
        events_namespace: events_namespace.clone(),
        chaos,
        databases: Stores::into_urls(stores),
        otlp_endpoint: default_otlp_endpoint(&control_url, |name| std::env::var(name).ok()),
        key_encryption_key_file: Some(crate::secrets::key_encryption_key_file(&data_dir)?),
        local_socket_dir: local_socket_dir(&data_dir, args.tcp_only)?,
    };
    let (mut specs, members) = instance_specs(&manifest, &wiring, &exe, args.colocate)?;
    let authority = LocalAuthority::start(args.identity_token_life, args.identity_rotate_every)?;
    authority.enrol(&mut specs, &members)?;
    let authority_routes = authority
        .authority
        .routes(crate::identity::operator_check(credential.clone()));
    let colour = terminal && std::env::var_os("NO_COLOR").is_none();
    let printer = Arc::new(Printer::new(
        specs
            .iter()
            .map(|s| s.slot.as_str())
            .chain(members.iter().map(String::as_str)),
        colour,
    ));

    let registry = Registry::new();
    let shared = Arc::new(Shared {
        registry: registry.clone(),
        printer: printer.clone(),
        client: PlainClient::new(Duration::from_secs(1)),
        clock,
        ready: watch::channel(HashSet::new()).0,
        probes: Mutex::new(HashMap::new()),
        members: members.clone(),
    });
    let logs = LogStore::default();
    let supervisor = supervise(&shared, &logs, terminal, args.print_requests);
    let mut sources = control_sources(
        &args,
        &manifest,
        &registry,
        &supervisor,
        &control_url,
        logs,
        started_at_ms,
        Gate::new(credential.clone(), Some(credential_file.clone())),
    );
    sources.acting_operator = Some(authority.operator());
    // Scrapes until `run` returns (dropped with it).
    let _scraper = Scraper::spawn(registry.clone(), sources.console.clone());
    let server = ControlServer::spawn(listener, sources, chaos, authority_routes);
    let mut signals = Signals::new().context("cannot listen for signals")?;

    say_plan(
        &printer,
        &manifest,
        &control_url,
        &origin,
        specs.len() - usize::from(!members.is_empty()) + members.len(),
        &data_dir,
    );
    say_layout(&printer, &stores_line, members.len());
    say_credential(&printer, &credential_file, credential_origin);
    say_events(&printer, events.url.as_deref(), &events_namespace, chaos);
    let expected = expected_slots(&specs, &members);
    for spec in specs {
        supervisor.start(spec);
    }

    let login = login_link(&control_url, &credential, &args.data_dir, &data_dir);
    let reason = wait_for_stop(&shared, &mut signals, &expected, &login, args.ready_timeout).await;
    let stopping = Instant::now();
    stop_instances(&printer, &supervisor, &mut signals, reason, args.stop_grace).await;
    // Only now: stopping instances deregister through the registry's API.
    registry.close();
    server.stop(&printer).await;
    printer.say(format_args!(
        "stopped in {}",
        human_duration(stopping.elapsed())
    ));
    Ok(())
}

/// The manifest, with `--gateway-port` and `--storefront-port` applied; and where it came from.
fn load_manifest(args: &UpArgs) -> anyhow::Result<(Manifest, crate::manifest::Origin)> {
    let (mut manifest, origin) = crate::manifest::load(args.manifest.as_deref())?;
    if let Some(port) = args.gateway_port {
        match manifest.service_mut("gateway") {
            Some(gateway) => gateway.port = Some(port),
            None => {
                anyhow::bail!("--gateway-port is set but the manifest {origin} runs no gateway")
            }
        }
    }
    if let (Some(port), Some(storefront)) =
        (args.storefront_port, manifest.service_mut("storefront"))
    {
        storefront.port = Some(port);
    }
    Ok((manifest, origin))
}

/// The data directory made absolute (instances run elsewhere), and its `data` subdirectory
/// for the stores, created.
fn prepare_data_dir(data_dir: &std::path::Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let data_dir = std::path::absolute(data_dir)
        .with_context(|| format!("cannot resolve the data directory {}", data_dir.display()))?;
    let store_dir = data_dir.join("data");
    std::fs::create_dir_all(&store_dir)
        .with_context(|| format!("cannot create the data directory {}", store_dir.display()))?;
    Ok((data_dir, store_dir))
}

/// The longest name an instance gives its socket file, `/{slot}-{id}.{pid}.sock` with the
/// longest service name: what the directory's path must leave room for.
const SOCKET_NAME_ROOM: usize = 56;

/// DATA_DIR/sockets, emptied of the files of instances that were killed before they could
/// remove their own; `None` with `--tcp-only`, or (said once) when its path leaves no room for a
/// socket's name within the kernel's limit.
fn local_socket_dir(data_dir: &std::path::Path, tcp_only: bool) -> anyhow::Result<Option<PathBuf>> {
    let dir = data_dir.join("sockets");
    if tcp_only {
        return Ok(None);
    }
    if dir.as_os_str().len() + SOCKET_NAME_ROOM > brigade_chassis::local_socket::MAX_PATH_BYTES {
        println!(
            "note: {} is too long a path for Unix sockets; instances talk over loopback TCP",
            dir.display()
        );
        return Ok(None);
    }
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(error).with_context(|| format!("cannot clear {}", dir.display()));
        }
    }
    Ok(Some(dir))
}

async fn bind_control_port(port: u16) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .with_context(|| {
            format!(
                "cannot listen on 127.0.0.1:{port} for the control plane: is another `brigade up` running? \
                 Stop it, or pass --control-port"
            )
        })
}

/// Every fixed port of a service that runs at least one instance is free.
fn check_fixed_ports_free(manifest: &Manifest) -> anyhow::Result<()> {
    for service in manifest.services.iter().filter(|s| s.instances > 0) {
        if let Some(port) = service.port {
            check_port_free(&service.name, port)?;
        }
    }
    Ok(())
}

/// A supervisor that tells `shared` of every start and exit, keeps every child's lines in
/// `logs` and prints them: rendered for people on a terminal, as they came otherwise; the
/// line of each request served only when `print_requests`.
fn supervise(
    shared: &Arc<Shared>,
    logs: &LogStore,
    terminal: bool,
    print_requests: bool,
) -> Supervisor {
    let observer_shared = shared.clone();
    let sink_printer = shared.printer.clone();
    let logs = logs.clone();
    Supervisor::new(
        Backoff::default(),
        Arc::new(move |event: &Event| observer_shared.on_event(event)),
        Arc::new(move |slot: &str, stream, line: &str| {
            let (service, instance) = slot_parts(slot);
            let source = match stream {
                Stream::Stdout => Source::Stdout,
                Stream::Stderr => Source::Stderr,
            };
            let kept = logs.push(service, instance, source, line);
            if !print_requests && kept.is_request_served() {
                return;
            }
            if terminal && !kept.text {
                sink_printer.child_line(slot, stream, &kept.render());
            } else {
                sink_printer.child_line(slot, stream, line);
            }
        }),
    )
}

/// A slot's service and instance number: `catalog-2` is the second instance of `catalog`
/// (as [`process_specs`] names them).
fn slot_parts(slot: &str) -> (&str, u32) {
    slot.rsplit_once('-')
        .and_then(|(service, n)| Some((service, n.parse().ok()?)))
        .unwrap_or((slot, 0))
}

/// The control port's server, running until [`ControlServer::stop`].
struct ControlServer {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl ControlServer {
    /// Serves the control port's routes, with `identity`'s (the identity authority's).
    fn spawn(
        listener: tokio::net::TcpListener,
        sources: Sources,
        chaos: bool,
        identity: axum::Router,
    ) -> ControlServer {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(
            axum::serve(
                listener,
                brigade_operator::control::router_with_chaos(sources, chaos).merge(identity),
            )
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .into_future(),
        );
        ControlServer { stop, task }
    }

    /// Stops accepting and waits (at most 1 s) for open connections to close.
    async fn stop(self, printer: &Printer) {
        let _ = self.stop.send(());
        if tokio::time::timeout(Duration::from_secs(1), self.task)
            .await
            .is_err()
        {
            printer.say("the control plane's connections did not close within 1 s; leaving anyway");
        }
    }
}

/// What is about to start, and where.
fn say_plan(
    printer: &Printer,
    manifest: &Manifest,
    control_url: &str,
    origin: &crate::manifest::Origin,
    instances: usize,
    data_dir: &std::path::Path,
) {
    printer.say(format_args!(
        "control plane on {control_url} (registry, console, API); manifest {origin}"
    ));
    let plan: Vec<String> = manifest
        .services
        .iter()
        .filter(|s| s.instances > 0)
        .map(|s| format!("{} ×{}", s.name, s.instances))
        .collect();
    printer.say(format_args!(
        "starting {instances} instances: {}; data in {}",
        plan.join(", "),
        data_dir.display()
    ));
}

/// How events travel, and whether chaos is on.
fn say_events(printer: &Printer, nats_url: Option<&str>, namespace: &str, chaos: bool) {
    match nats_url {
        Some(url) => printer.say(format_args!(
            "events through NATS JetStream at {url} (streams {namespace}_*)"
        )),
        None => printer.say(format_args!(
            "events through the embedded transport (each producer's outbox feed)"
        )),
    }
    if chaos {
        printer.say(
            "chaos is on: faults can be injected with `brigade chaos` (every instance serves /v1/chaos)",
        );
    }
}

/// Announces when every `expected` slot is ready (also when that comes after the timeout's
/// warning), until a signal says stop; returns the signal's name.
async fn wait_for_stop(
    shared: &Shared,
    signals: &mut Signals,
    expected: &HashSet<String>,
    login: &Login,
    ready_timeout: Duration,
) -> &'static str {
    let mut ready = shared.ready.subscribe();
    let deadline = shared.clock + ready_timeout;
    let (mut announced, mut warned) = (false, false);
    loop {
        tokio::select! {
            all = ready.wait_for(|r| expected.iter().all(|s| r.contains(s))), if !announced => {
                if all.is_ok() {
                    announce_ready(&shared.printer, &shared.registry, login, expected.len(), shared.clock.elapsed());
                }
                announced = true;
            }
            _ = tokio::time::sleep_until(deadline), if !announced && !warned => {
                warn_not_ready(shared, expected, ready_timeout);
                // The console shows why: log in to it without waiting for every instance.
                shared.printer.say(format_args!("  console  {}", login.link));
                warned = true;
            }
            reason = signals.next() => return reason,
        }
    }
}

/// Names the slots not ready after `ready_timeout`.
fn warn_not_ready(shared: &Shared, expected: &HashSet<String>, ready_timeout: Duration) {
    let ready_now = shared.ready.borrow().clone();
    let mut waiting: Vec<&str> = expected
        .iter()
        .filter(|s| !ready_now.contains(*s))
        .map(String::as_str)
        .collect();
    waiting.sort_unstable();
    shared.printer.say(format_args!(
        "not ready after {}: {} (their lines above say why); still trying. Ctrl-C stops everything",
        human_duration(ready_timeout),
        waiting.join(", ")
    ));
}

/// Stops every group in the reverse of the manifest's order, each with `grace` before SIGKILL;
/// a second signal kills everything at once.
async fn stop_instances(
    printer: &Printer,
    supervisor: &Supervisor,
    signals: &mut Signals,
    reason: &str,
    grace: Duration,
) {
    let order: Vec<String> = supervisor.groups().into_iter().rev().collect();
    printer.say(format_args!(
        "{reason}: stopping {} (again to kill at once)",
        order.join(", then ")
    ));
    let graceful = async {
        for group in &order {
            supervisor.stop_group(group, grace).await;
        }
    };
    tokio::select! {
        _ = graceful => {}
        reason = signals.next() => {
            printer.say(format_args!("{reason} again: killing every instance now"));
            supervisor.kill_all().await;
        }
    }
}

/// The console's login link and the control port it is for.
struct Login {
    control_url: String,
    /// The data directory, when it is not the default `.brigade` the operator commands look in.
    data_dir: Option<PathBuf>,
    /// `CONTROL_URL/login?t=CREDENTIAL`: the one place `brigade up` shows the credential.
    link: String,
}

/// The login link for `credential`; `given` is the data directory as the user gave it (`data_dir`
/// resolved), worth naming only when it is not the default.
fn login_link(
    control_url: &str,
    credential: &OperatorCredential,
    given: &std::path::Path,
    data_dir: &std::path::Path,
) -> Login {
    Login {
        control_url: control_url.to_owned(),
        data_dir: (given != std::path::Path::new(brigade_operator::credential::DEFAULT_DATA_DIR))
            .then(|| data_dir.to_owned()),
        // base64url needs no escaping in a query string.
        link: format!("{control_url}/login?t={}", credential.secret()),
    }
}

/// Where the operator credential is, never what it is.
fn say_credential(printer: &Printer, file: &std::path::Path, origin: CredentialOrigin) {
    let how = match origin {
        CredentialOrigin::Created => "new",
        CredentialOrigin::Reused => "kept from the last run",
    };
    printer.say(format_args!(
        "operator credential in {} ({how}, readable only by you): `brigade scale`, `restart`, \
         `chaos`, `events replay` and the console's controls need it",
        file.display()
    ));
}

/// How to run the operator commands against this system from another terminal: the control URL
/// and the data directory (where the operator credential is) when they are not the defaults.
fn operator_command(login: &Login) -> String {
    let mut command = String::new();
    if login.control_url != brigade_operator::status::DEFAULT_CONTROL_URL {
        command.push_str(&format!("BRIGADE_CONTROL_URL={} ", login.control_url));
    }
    if let Some(dir) = &login.data_dir {
        command.push_str(&format!("BRIGADE_DATA_DIR={} ", dir.display()));
    }
    command.push_str("brigade status (and scale, restart, chaos, check)");
    command
}

fn announce_ready(
    printer: &Printer,
    registry: &Registry,
    login: &Login,
    count: usize,
    took: Duration,
) {
    printer.say(format_args!(
        "all {count} instances ready in {}",
        human_duration(took)
    ));
    if let Some(gateway) = registry.service("gateway").instances.first() {
        printer.say(format_args!(
            "  gateway  http://{}/api/v1/products",
            gateway.registration.address
        ));
    }
    if let Some(storefront) = registry.service("storefront").instances.first() {
        printer.say(format_args!(
            "  shop     http://{}/",
            storefront.registration.address
        ));
    }
    printer.say(format_args!("  console  {}", login.link));
    printer.say(format_args!("  status   {}", operator_command(login)));
    printer.say("Ctrl-C stops everything");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ready_banner_names_what_the_operator_commands_need_off_the_defaults() {
        let mut login = Login {
            control_url: brigade_operator::status::DEFAULT_CONTROL_URL.into(),
            data_dir: None,
            link: String::new(),
        };
        assert_eq!(
            operator_command(&login),
            "brigade status (and scale, restart, chaos, check)"
        );
        login.control_url = "http://127.0.0.1:17901".into();
        login.data_dir = Some("/tmp/system".into());
        assert_eq!(
            operator_command(&login),
            "BRIGADE_CONTROL_URL=http://127.0.0.1:17901 BRIGADE_DATA_DIR=/tmp/system \
             brigade status (and scale, restart, chaos, check)"
        );
    }

    #[test]
    fn instances_are_wired_into_the_system_and_the_manifest_env_applies() {
        let manifest = crate::manifest::parse(
            "[[service]]\nname = \"catalog\"\ninstances = 2\nargs = [\"--no-seed\"]\n\
             [service.env]\nBRIGADE_LOG = \"debug\"\nBRIGADE_PARENT_PID = 1\n\
             [[service]]\nname = \"gateway\"\nport = 8088\n",
            "test",
        )
        .unwrap();
        let wiring = Wiring {
            registry_url: "http://127.0.0.1:7070".into(),
            data_dir: "/tmp/brigade/data".into(),
            events: "nats://127.0.0.1:4222".into(),
            events_namespace: "shop".into(),
            chaos: true,
            databases: [(
                "catalog".to_owned(),
                "postgres://127.0.0.1:5432/brigade_catalog".to_owned(),
            )]
            .into(),
            otlp_endpoint: Some("http://127.0.0.1:7070".into()),
            key_encryption_key_file: Some("/tmp/brigade/users-key-encryption-key".into()),
            local_socket_dir: Some("/tmp/brigade/sockets".into()),
        };
        let specs = process_specs(&manifest, &wiring, std::path::Path::new("/bin/brigade"));
        let slots: Vec<&str> = specs.iter().map(|s| s.slot.as_str()).collect();
        assert_eq!(slots, ["catalog-1", "catalog-2", "gateway-1"]);
        // Only users gets the key file's path (never its value).
        assert!(specs
            .iter()
            .all(|s| !env_of(s).contains_key("BRIGADE_USERS_KEY_ENCRYPTION_KEY_FILE")));
        // The log store names a slot's lines by service and instance number.
        assert_eq!(slot_parts("catalog-2"), ("catalog", 2));
        assert_eq!(slot_parts("sample-catalog-1"), ("sample-catalog", 1));
        assert_eq!(specs[0].args, ["run", "catalog", "--no-seed"]);
        assert_eq!(specs[0].program, PathBuf::from("/bin/brigade"));
        let env = env_of(&specs[0]);
        assert_eq!(env["BRIGADE_LISTEN"], "127.0.0.1:0");
        assert_eq!(env["BRIGADE_REGISTRY_URL"], "http://127.0.0.1:7070");
        assert_eq!(env["BRIGADE_DATA_DIR"], "/tmp/brigade/data");
        assert_eq!(env["BRIGADE_LOG_FORMAT"], "json");
        assert_eq!(env["BRIGADE_EVENTS"], "nats://127.0.0.1:4222");
        assert_eq!(env["BRIGADE_EVENTS_NAMESPACE"], "shop");
        assert_eq!(env["BRIGADE_LOG"], "debug");
        assert_eq!(env["BRIGADE_CHAOS"], "true");
        assert_eq!(env["BRIGADE_LOCAL_SOCKET_DIR"], "/tmp/brigade/sockets");
        assert_eq!(env["OTEL_EXPORTER_OTLP_ENDPOINT"], "http://127.0.0.1:7070");
        assert_eq!(env["BRIGADE_PARENT_PID"], std::process::id().to_string());
        assert_eq!(
            specs[0].instance_id_env.as_deref(),
            Some("BRIGADE_INSTANCE_ID")
        );
        assert_eq!(
            env["BRIGADE_DATABASE_URL"],
            "postgres://127.0.0.1:5432/brigade_catalog"
        );
        assert_eq!(env_of(&specs[2])["BRIGADE_LISTEN"], "127.0.0.1:8088");
        assert!(!env_of(&specs[2]).contains_key("BRIGADE_DATABASE_URL"));
        assert_eq!(env_of(&specs[2])["BRIGADE_REUSE_PORT"], "true");
        assert!(!env_of(&specs[0]).contains_key("BRIGADE_REUSE_PORT"));
    }

    #[test]
    fn the_console_scrape_interval_is_a_duration_within_its_range() {
        let options = console_scrape_interval("500ms").unwrap();
        assert_eq!(options.interval(), Duration::from_millis(500));
        let too_fast = console_scrape_interval("10ms").unwrap_err();
        assert!(too_fast.contains("200ms"), "{too_fast}");
        assert!(console_scrape_interval("soon").is_err());
    }

    #[test]
    fn instances_export_spans_to_the_control_port_unless_the_user_chose_an_endpoint() {
        let control = "http://127.0.0.1:7070";
        let unset = |_: &str| None;
        assert_eq!(
            default_otlp_endpoint(control, unset).as_deref(),
            Some(control)
        );
        let empty = |_: &str| Some(" ".to_owned());
        assert_eq!(
            default_otlp_endpoint(control, empty).as_deref(),
            Some(control)
        );
        for chosen in [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        ] {
            let env = |name: &str| (name == chosen).then(|| "http://collector:4318".to_owned());
            assert_eq!(default_otlp_endpoint(control, env), None, "{chosen}");
        }
    }

    #[test]
    fn production_like_uses_local_nats_unless_told_otherwise() {
        #[derive(clap::Parser)]
        struct Command {
            #[command(flatten)]
            up: UpArgs,
        }
        let parse = |flags: &[&str]| {
            let argv = std::iter::once("up").chain(flags.iter().copied());
            <Command as clap::Parser>::try_parse_from(argv).unwrap().up
        };
        let manifest = crate::manifest::parse("", "test").unwrap();
        let nats = |flags: &[&str]| events_transport(&parse(flags), &manifest).unwrap().0.url;
        assert_eq!(
            nats(&["--production-like"]).as_deref(),
            Some(stores::LOCAL_NATS)
        );
        assert_eq!(
            nats(&["--production-like", "--nats", "nats://10.0.0.1:4222"]).as_deref(),
            Some("nats://10.0.0.1:4222")
        );
        assert_eq!(nats(&[]), None);
        let args = parse(&[
            "--postgres",
            "postgres://db:5432/x",
            "--postgres-prefix",
            "shop_2",
        ]);
        assert_eq!(args.postgres_prefix, "shop_2");
        assert!(args
            .postgres
            .is_some_and(|s| s.url() == "postgres://db:5432/x"));
        let refused = <Command as clap::Parser>::try_parse_from(["up", "--postgres", "db:5432"]);
        assert!(refused.is_err_and(|e| e.to_string().contains("--postgres")));
    }

    /// A process's environment, by variable name.
    fn env_of(spec: &ProcessSpec) -> HashMap<&str, &str> {
        spec.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}
