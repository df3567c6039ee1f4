//! Instances on one machine called through their Unix sockets: an instance with
//! `--local-socket-dir` serves there beside its TCP port, a client that finds its socket in the
//! registry's answer connects through it, a socket that is gone leaves TCP answering, and the
//! file goes away when the instance stops.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, Path as UrlPath, State};
use axum::routing::get;
use axum::{Json, Router};
use brigade_chassis::client::{self, ServiceClient};
use brigade_chassis::discovery::api::{InstanceRecord, Registration, ServiceInstances};
use brigade_chassis::discovery::{Resolver, Source};
use brigade_chassis::metrics::Metrics;
use brigade_chassis::service::{self, ServiceInfo};
use brigade_chassis::shutdown::Reason;
use brigade_chassis::testing;
use tokio::sync::oneshot;

const INFO: ServiceInfo = ServiceInfo {
    name: "peer",
    version: "test",
    depends_on: brigade_chassis::service::Dependencies::NONE,
};

/// The port of the connection a request came in on: 0 through the local socket (the chassis
/// gives such peers the loopback address with no port), the client's own port over TCP.
async fn peer_port(ConnectInfo(peer): ConnectInfo<SocketAddr>) -> Json<u16> {
    Json(peer.port())
}

/// What a registry answers for the instance: its address, and its socket when given.
#[derive(Clone)]
struct FakeRegistry {
    instance: Arc<Mutex<Registration>>,
}

async fn instances(
    State(registry): State<FakeRegistry>,
    UrlPath(service): UrlPath<String>,
) -> Json<ServiceInstances> {
    let registration = registry.instance.lock().unwrap().clone();
    Json(ServiceInstances {
        service,
        index: 1,
        instances: vec![InstanceRecord {
            registration,
            registered_at_ms: 0,
            last_heartbeat_ms: 0,
        }],
    })
}

/// Serves `registration` as the only instance of every service; returns the registry's URL.
async fn fake_registry(registration: Registration) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = Router::new()
        .route("/v1/registry/services/{service}", get(instances))
        .with_state(FakeRegistry {
            instance: Arc::new(Mutex::new(registration)),
        });
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

struct Instance {
    address: SocketAddr,
    socket: PathBuf,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), service::Error>>,
}

/// Starts an instance with its socket in `dir`; waits until the socket file is there.
async fn start(dir: &Path) -> Instance {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let args = testing::service_args(&[
        "--log",
        "warn",
        "--instance-id",
        "peer-1",
        "--local-socket-dir",
        dir.to_str().unwrap(),
    ]);
    let (stop, stopped) = oneshot::channel::<()>();
    let routes = Router::new().route("/v1/peer", get(peer_port));
    let task = tokio::spawn(service::serve(
        INFO,
        args,
        listener,
        |_ctx| async { Ok(routes) },
        async move {
            let _ = stopped.await;
            Reason::Requested
        },
    ));
    let socket = dir.join(format!("peer-1.{}.sock", std::process::id()));
    for _ in 0..200 {
        if socket.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(socket.exists(), "no socket at {}", socket.display());
    Instance {
        address,
        socket,
        stop,
        task,
    }
}

fn registration(address: SocketAddr, local_socket: Option<&Path>) -> Registration {
    Registration {
        service: "peer".into(),
        instance_id: "peer-1".into(),
        address: address.to_string(),
        local_socket: local_socket.map(|p| p.to_str().unwrap().to_owned()),
        version: "test".into(),
        pid: None,
        started_at_ms: 0,
        ttl_ms: 10_000,
        metadata: Default::default(),
    }
}

fn client_of(registry_url: String) -> ServiceClient {
    ServiceClient::new(
        "peer",
        Resolver::new(Source::Registry(registry_url)),
        Metrics::new().client,
        client::Options::default(),
    )
}

async fn port_seen(client: &ServiceClient) -> u16 {
    client.get_json::<u16>("/v1/peer").await.unwrap()
}

#[tokio::test]
async fn a_registered_socket_carries_the_calls_and_is_removed_at_stop() {
    let dir = tempfile::tempdir().unwrap();
    let instance = start(dir.path()).await;
    let client =
        client_of(fake_registry(registration(instance.address, Some(&instance.socket))).await);
    for _ in 0..3 {
        assert_eq!(
            port_seen(&client).await,
            0,
            "the call did not come through the socket"
        );
    }
    // The TCP port still serves everyone else, with their own address.
    let over_tcp = client_of(fake_registry(registration(instance.address, None)).await);
    assert_ne!(port_seen(&over_tcp).await, 0);

    instance.stop.send(()).unwrap();
    instance.task.await.unwrap().unwrap();
    assert!(
        !instance.socket.exists(),
        "the socket file outlived its instance"
    );
}

#[tokio::test]
async fn a_socket_that_is_gone_leaves_the_tcp_address_answering() {
    let dir = tempfile::tempdir().unwrap();
    let instance = start(dir.path()).await;
    // Registered with a socket that nothing listens on (its file removed under it).
    std::fs::remove_file(&instance.socket).unwrap();
    let client =
        client_of(fake_registry(registration(instance.address, Some(&instance.socket))).await);
    assert_ne!(port_seen(&client).await, 0);
    instance.stop.send(()).unwrap();
    instance.task.await.unwrap().unwrap();
}
