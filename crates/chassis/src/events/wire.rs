//! What the events' HTTP routes answer: the wire types that a producer's feed and a consumer's
//! parked-events routes write and that their readers (other services, the control plane) read.
//!
//! Apart from the routes ([`super::feed`]) so that the reading side depends on these types only,
//! not on the store and relay that serve them.

use serde::{Deserialize, Serialize};

use super::envelope::Envelope;

/// One page of a producer's feed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeedPage {
    pub events: Vec<FeedItem>,
    /// The highest position given so far (the feed's end when the page is not full).
    pub last_position: i64,
    /// The position this page read up to, including events left out by `types`: the next
    /// page starts after it.
    #[serde(default)]
    pub scanned_to: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeedItem {
    pub position: i64,
    pub event: Envelope,
}

/// A parked event, as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parked {
    pub id: String,
    pub source: String,
    pub subject: String,
    pub subjectseq: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub error: String,
    pub attempts: i64,
    /// Set when the event itself did not fail but waits behind an earlier parked event of its
    /// subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_behind: Option<String>,
    pub parked_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParkedList {
    pub service: String,
    pub items: Vec<Parked>,
}

/// What a replay did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Replayed {
    /// Applied now, in order: the replayed event and the events held behind it.
    pub replayed: Vec<String>,
    /// Parked events left in this service.
    pub still_parked: usize,
}
