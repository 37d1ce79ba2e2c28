//! Telling the client: the status record `booking:<id>` and the message on
//! `bookings:updates`, both as the contract fixes them.
//!
//! The commands are added to the caller's `MULTI`, together with the job's removal from
//! the in-progress list: the record, its TTL, the message and the acknowledgement
//! happen all at once or not at all. A job whose outcome was never told is therefore
//! never acknowledged.

use redis::Pipeline;
use serde_json::json;

use super::keys;
use super::outcome::Outcome;
use crate::bookings::record::{self, RECORD_TTL_SECONDS};

/// Everything the status record holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    /// As the job carries it: the record's key is `booking:<booking_id>`.
    pub booking_id: String,
    pub outcome: Outcome,
    /// Echoed from the job as it has them.
    pub event_id: String,
    pub quantity: String,
    pub user_ref: String,
    pub jid: String,
    pub processed_at_ms: i64,
}

impl StatusUpdate {
    /// The published message: `{"id", "status", "reason"}`.
    pub fn message(&self) -> String {
        json!({
            "id": self.booking_id,
            "status": self.outcome.status.as_str(),
            "reason": self.outcome.reason,
        })
        .to_string()
    }

    /// Adds `HSET` of every field, `EXPIRE` and `PUBLISH` to `pipe`.
    pub fn add_to(&self, pipe: &mut Pipeline) {
        let key = record::key(&self.booking_id);
        let processed_at_ms = self.processed_at_ms.to_string();
        let fields = [
            ("status", self.outcome.status.as_str()),
            ("reason", self.outcome.reason.as_str()),
            ("event_id", self.event_id.as_str()),
            ("quantity", self.quantity.as_str()),
            ("user_ref", self.user_ref.as_str()),
            ("jid", self.jid.as_str()),
            ("processed_at_ms", processed_at_ms.as_str()),
        ];
        pipe.hset_multiple(&key, &fields).ignore();
        pipe.expire(&key, RECORD_TTL_SECONDS).ignore();
        pipe.publish(keys::UPDATES_CHANNEL, self.message()).ignore();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_has_exactly_the_contract_fields() {
        let update = StatusUpdate {
            booking_id: "6f1c2a9e-3b7d-4c1e-9a55-0d2f8e7b6a41".into(),
            outcome: Outcome::rejected("sold_out"),
            event_id: "4".into(),
            quantity: "1".into(),
            user_ref: "fan-1".into(),
            jid: "j".into(),
            processed_at_ms: 1,
        };
        let message: serde_json::Value = serde_json::from_str(&update.message()).unwrap();
        assert_eq!(
            message,
            json!({
                "id": "6f1c2a9e-3b7d-4c1e-9a55-0d2f8e7b6a41",
                "status": "rejected",
                "reason": "sold_out"
            })
        );
        let confirmed = StatusUpdate {
            outcome: Outcome::confirmed(),
            ..update
        };
        assert!(confirmed.message().contains(r#""reason":"""#));
    }
}
