//! The booking status record: the Redis hash `booking:<id>` that the worker keeps and
//! clients poll.

use std::collections::HashMap;

use serde::Serialize;
use uuid::Uuid;

/// Seconds a status record lives, as the contract fixes it: one day.
pub const RECORD_TTL_SECONDS: i64 = 24 * 60 * 60;

/// The Redis key of a booking's status record; `id` in its hyphenated form.
pub fn key(id: &impl std::fmt::Display) -> String {
    format!("booking:{id}")
}

/// A status record as a client reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusRecord {
    pub booking_id: String,
    /// `pending`, `confirmed`, `rejected` or `expired`.
    pub status: String,
    /// Empty while pending or when confirmed; why otherwise.
    pub reason: Option<String>,
    pub event_id: Option<i64>,
    pub quantity: Option<i64>,
    pub user_ref: Option<String>,
    pub processed_at_ms: Option<i64>,
}

impl StatusRecord {
    /// Whether the worker is done with the booking.
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "confirmed" | "rejected" | "expired")
    }

    /// Reads the hash's fields; `None` when the hash has no `status` (no such booking).
    pub fn from_fields(id: &Uuid, mut fields: HashMap<String, String>) -> Option<Self> {
        let status = fields.remove("status")?;
        let number = |value: Option<String>| value.and_then(|v| v.parse::<i64>().ok());
        Some(StatusRecord {
            booking_id: id.hyphenated().to_string(),
            status,
            reason: fields.remove("reason").filter(|r| !r.is_empty()),
            event_id: number(fields.remove("event_id")),
            quantity: number(fields.remove("quantity")),
            user_ref: fields.remove("user_ref"),
            processed_at_ms: number(fields.remove("processed_at_ms")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_become_typed_values() {
        let id = Uuid::nil();
        let fields = HashMap::from([
            ("status".to_owned(), "rejected".to_owned()),
            ("reason".to_owned(), "sold_out".to_owned()),
            ("event_id".to_owned(), "3".to_owned()),
            ("quantity".to_owned(), "2".to_owned()),
            ("processed_at_ms".to_owned(), "1764864000123".to_owned()),
        ]);
        let record = StatusRecord::from_fields(&id, fields).unwrap();
        assert_eq!(record.status, "rejected");
        assert_eq!(record.reason.as_deref(), Some("sold_out"));
        assert_eq!(record.event_id, Some(3));
        assert_eq!(record.processed_at_ms, Some(1_764_864_000_123));
        assert_eq!(record.user_ref, None);
    }

    #[test]
    fn a_hash_without_status_is_no_booking() {
        assert!(StatusRecord::from_fields(&Uuid::nil(), HashMap::new()).is_none());
        let pending = HashMap::from([
            ("status".to_owned(), "pending".to_owned()),
            ("reason".to_owned(), String::new()),
        ]);
        let record = StatusRecord::from_fields(&Uuid::nil(), pending).unwrap();
        assert_eq!(record.reason, None);
    }
}
