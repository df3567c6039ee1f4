//! Unix domain sockets between instances on one machine.
//!
//! On one machine every hop between services crossed the kernel's TCP stack twice (the request
//! and its answer over loopback), and profiles of `brigade up` under load put that path among the
//! largest single costs of a request. An instance started with a socket directory
//! (`--local-socket-dir`, set by `brigade up`) serves on a Unix socket beside its TCP port and
//! registers both; a [`ServiceClient`](crate::client::ServiceClient) that finds an instance at a
//! loopback address with a socket connects through the socket instead. Nothing else changes: the
//! instance is still known, balanced, ejected and traced by its TCP address, the same router and
//! middleware serve both listeners, and a socket that cannot be reached (the instance is gone,
//! the file was removed) is skipped for the TCP address, which answers as it always did.
//!
//! Only loopback addresses are matched with a socket: an address on the loopback interface is
//! on the caller's own machine, so the registered path names a file the caller can open. An
//! instance elsewhere (Kubernetes, another machine) registers no socket.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpStream, UnixStream};

/// The longest socket path the kernel takes: `sun_path` holds 108 bytes with the closing NUL.
pub const MAX_PATH_BYTES: usize = 107;

/// Which loopback addresses are also served on a Unix socket, as discovery last saw them;
/// cheap to clone, shared by a process's resolver and its clients' connectors.
#[derive(Debug, Clone, Default)]
pub struct LocalSockets {
    by_address: Arc<RwLock<HashMap<SocketAddr, Known>>>,
}

#[derive(Debug)]
struct Known {
    service: Arc<str>,
    path: Arc<Path>,
}

impl LocalSockets {
    pub fn new() -> LocalSockets {
        LocalSockets::default()
    }

    /// Replaces what is known of `service`'s instances with `sockets` (address, path); an
    /// address that is not on loopback is left out.
    pub fn replace(&self, service: &str, sockets: impl IntoIterator<Item = (SocketAddr, PathBuf)>) {
        let service: Arc<str> = Arc::from(service);
        let mut map = self
            .by_address
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, known| known.service != service);
        for (address, path) in sockets {
            if address.ip().is_loopback() {
                let path = Arc::from(path.as_path());
                let service = service.clone();
                map.insert(address, Known { service, path });
            }
        }
    }

    /// The socket that serves `address`, when one is known.
    pub fn path_of(&self, address: SocketAddr) -> Option<Arc<Path>> {
        let map = self
            .by_address
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(&address).map(|known| known.path.clone())
    }
}

/// Where an instance's socket lives in `dir`: named by the instance and its process, so that a
/// restarted instance (same id, a rolling restart's new process beside the old one) never takes
/// the path of one still serving. `None` when the path is longer than the kernel takes.
pub fn socket_path(dir: &Path, instance_id: &str, pid: u32) -> Option<PathBuf> {
    let path = dir.join(format!("{instance_id}.{pid}.sock"));
    (path.as_os_str().len() <= MAX_PATH_BYTES).then_some(path)
}

/// Listens on `path`, creating its directory (readable by this user only) when missing, and
/// replacing a file left there by a process that was killed before it could remove its own.
pub fn bind(path: &Path) -> io::Result<tokio::net::UnixListener> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    tokio::net::UnixListener::bind(path)
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// Connects to an instance through its Unix socket when [`LocalSockets`] knows one for the
/// address, else (or when the socket does not answer) over TCP.
#[derive(Debug, Clone)]
pub struct Connector {
    tcp: HttpConnector,
    sockets: LocalSockets,
}

impl Connector {
    pub fn new(tcp: HttpConnector, sockets: LocalSockets) -> Connector {
        Connector { tcp, sockets }
    }

    fn socket_for(&self, uri: &Uri) -> Option<Arc<Path>> {
        let host = uri.host()?;
        let port = uri.port_u16()?;
        let address: SocketAddr = format!("{host}:{port}").parse().ok()?;
        self.sockets.path_of(address)
    }
}

type ConnectFuture = Pin<Box<dyn Future<Output = Result<Stream, crate::BoxError>> + Send>>;

impl tower_service::Service<Uri> for Connector {
    type Response = Stream;
    type Error = crate::BoxError;
    type Future = ConnectFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower_service::Service::<Uri>::poll_ready(&mut self.tcp, cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let socket = self.socket_for(&uri);
        let mut tcp = self.tcp.clone();
        Box::pin(async move {
            if let Some(path) = socket {
                match UnixStream::connect(&*path).await {
                    Ok(stream) => return Ok(Stream::Unix(TokioIo::new(stream))),
                    // The instance may still answer on its TCP port (its socket file removed);
                    // if it is gone, the TCP connect says so as it always did.
                    Err(error) => {
                        tracing::debug!(path = %path.display(), %error, "local socket unreachable; connecting over TCP")
                    }
                }
            }
            let stream = tcp.call(uri).await?;
            Ok(Stream::Tcp(stream))
        })
    }
}

/// A connection to an instance: over TCP, or through its Unix socket.
#[derive(Debug)]
pub enum Stream {
    Tcp(TokioIo<TcpStream>),
    Unix(TokioIo<UnixStream>),
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        match self {
            Stream::Tcp(stream) => stream.connected(),
            Stream::Unix(stream) => stream.connected(),
        }
    }
}

impl hyper::rt::Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(stream) => Pin::new(stream).poll_read(cx, buf),
            Stream::Unix(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

impl hyper::rt::Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(stream) => Pin::new(stream).poll_write(cx, buf),
            Stream::Unix(stream) => Pin::new(stream).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Stream::Unix(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Tcp(stream) => stream.is_write_vectored(),
            Stream::Unix(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(stream) => Pin::new(stream).poll_flush(cx),
            Stream::Unix(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(stream) => Pin::new(stream).poll_shutdown(cx),
            Stream::Unix(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_addresses_are_matched_and_a_service_is_replaced_whole() {
        let sockets = LocalSockets::new();
        let local: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let remote: SocketAddr = "10.0.0.7:4000".parse().unwrap();
        let other: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        sockets.replace(
            "catalog",
            [(local, "/a.sock".into()), (remote, "/b.sock".into())],
        );
        sockets.replace("cart", [(other, "/c.sock".into())]);
        assert_eq!(
            sockets.path_of(local).as_deref(),
            Some(Path::new("/a.sock"))
        );
        assert_eq!(sockets.path_of(remote), None);
        sockets.replace("catalog", []);
        assert_eq!(sockets.path_of(local), None);
        assert_eq!(
            sockets.path_of(other).as_deref(),
            Some(Path::new("/c.sock"))
        );
    }

    #[test]
    fn a_path_longer_than_the_kernel_takes_is_refused() {
        let short = socket_path(Path::new("/tmp/x"), "catalog-1", 42);
        assert_eq!(short, Some(PathBuf::from("/tmp/x/catalog-1.42.sock")));
        let long_dir = PathBuf::from(format!("/tmp/{}", "d".repeat(100)));
        assert_eq!(socket_path(&long_dir, "catalog-1", 42), None);
    }
}
