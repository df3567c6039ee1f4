//! A DNS server the test controls, on a loopback UDP port: it answers A queries from a table
//! the test changes while callers run, as a cluster's DNS does when a Deployment scales.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};

/// Names and their A records; unknown names are answered NXDOMAIN.
type Table = Arc<Mutex<HashMap<String, Vec<Ipv4Addr>>>>;

/// A DNS server on `127.0.0.1`, serving until dropped.
pub struct FakeDns {
    pub address: SocketAddr,
    records: Table,
    task: tokio::task::JoinHandle<()>,
}

impl FakeDns {
    /// Starts the server with no names.
    pub async fn start() -> FakeDns {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("cannot bind the fake DNS server: {e}"));
        let address = socket
            .local_addr()
            .unwrap_or_else(|e| panic!("the fake DNS server has no address: {e}"));
        let records = Table::default();
        let task = tokio::spawn(serve(socket, records.clone()));
        FakeDns {
            address,
            records,
            task,
        }
    }

    /// From now on `name` resolves to `addresses` (none: the name exists, with no address).
    pub fn set(&self, name: &str, addresses: &[Ipv4Addr]) {
        self.table().insert(normalise(name), addresses.to_vec());
    }

    /// From now on `name` does not exist.
    pub fn remove(&self, name: &str) {
        self.table().remove(&normalise(name));
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Ipv4Addr>>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Names compare without case and without the root's dot.
fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

async fn serve(socket: tokio::net::UdpSocket, records: Table) {
    let mut buffer = [0u8; 1500];
    loop {
        let Ok((length, peer)) = socket.recv_from(&mut buffer).await else {
            continue;
        };
        let Ok(query) = Message::from_vec(&buffer[..length]) else {
            continue;
        };
        if let Ok(answer) = answer(&query, &records).to_vec() {
            let _ = socket.send_to(&answer, peer).await;
        }
    }
}

/// The answer to `query`: its A records with a TTL of 0 (nothing to cache), an empty answer
/// for other types of a known name, NXDOMAIN for an unknown one.
fn answer(query: &Message, records: &Table) -> Message {
    let mut answer = Message::new(
        query.metadata.id,
        MessageType::Response,
        query.metadata.op_code,
    );
    answer.metadata.authoritative = true;
    answer.metadata.recursion_desired = query.metadata.recursion_desired;
    answer.metadata.recursion_available = true;
    let table = records.lock().unwrap_or_else(PoisonError::into_inner);
    for question in &query.queries {
        answer.add_query(question.clone());
        let name = question.name();
        match table.get(&normalise(&name.to_ascii())) {
            None => answer.metadata.response_code = ResponseCode::NXDomain,
            Some(addresses) if question.query_type() == RecordType::A => {
                for address in addresses {
                    answer.add_answer(Record::from_rdata(name.clone(), 0, RData::A(A(*address))));
                }
            }
            Some(_) => {}
        }
    }
    answer
}
