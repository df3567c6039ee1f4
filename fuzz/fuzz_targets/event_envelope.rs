//! Events as consumers receive them: an envelope from the broker (a JetStream message) or a page
//! of a producer's feed, then its payload decoded as each event type of the system.
//!
//! Properties: an envelope that parses reads back the same after being written; its age never
//! panics; a payload is decoded only at a schema version its type reads; a decoded event writes
//! and reads back to itself and names its subject.
#![no_main]

use brigade_chassis::events::{Envelope, Event, FeedPage};
use libfuzzer_sys::fuzz_target;

fn decodes_as<E: Event + PartialEq + std::fmt::Debug>(envelope: &Envelope) {
    let readable = (E::OLDEST_READABLE..=E::VERSION).contains(&envelope.schemaversion);
    match envelope.decode::<E>() {
        Ok(event) => {
            assert!(
                readable,
                "{} read at version {}",
                E::NAME,
                envelope.schemaversion
            );
            let _ = event.subject();
            let again = serde_json::to_value(&event).expect("an event writes as JSON");
            let mut rewritten = envelope.clone();
            rewritten.data = again;
            assert_eq!(rewritten.decode::<E>().as_ref(), Ok(&event));
        }
        Err(reason) => assert!(!reason.is_empty()),
    }
}

/// Every event type a consumer of this system decodes.
fn decodes_as_every_type(envelope: &Envelope) {
    let _ = envelope.age();
    decodes_as::<catalog_api::events::ProductChanged>(envelope);
    decodes_as::<inventory_api::events::StockChanged>(envelope);
    decodes_as::<orders_api::events::OrderPlaced>(envelope);
    decodes_as::<orders_api::events::OrderConfirmed>(envelope);
    decodes_as::<orders_api::events::OrderCancelled>(envelope);
    decodes_as::<payments_api::events::PaymentCaptured>(envelope);
    decodes_as::<payments_api::events::PaymentFailed>(envelope);
    decodes_as::<payments_api::events::PaymentRefunded>(envelope);
    decodes_as::<shipping_api::events::ShipmentCreated>(envelope);
    decodes_as::<users_api::events::UserRegistered>(envelope);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = Envelope::from_json(data) {
        let written = serde_json::to_vec(&envelope).expect("an envelope writes as JSON");
        let again = Envelope::from_json(&written).expect("a written envelope reads");
        assert_eq!(again, envelope);
        decodes_as_every_type(&envelope);
    }
    if let Ok(page) = serde_json::from_slice::<FeedPage>(data) {
        for item in &page.events {
            decodes_as_every_type(&item.event);
        }
    }
});
