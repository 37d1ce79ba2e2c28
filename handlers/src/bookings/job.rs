//! The Sidekiq job payload of a booking, byte-compatible with the legacy worker.
//!
//! Timestamps are the trap: Sidekiq 6 and 7 read epoch seconds as floats, while
//! Sidekiq 8 reads every integer as milliseconds. We write floats with a fraction by
//! default (read correctly by 6, 7 and 8) and integer milliseconds only when the route
//! says the fleet is Sidekiq 8 alone. Integer seconds are never written.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How top-level timestamps are written, chosen by the worker fleet's Sidekiq version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampFormat {
    /// Epoch seconds as a float: Sidekiq 6 and 7 (and 8 reads it too).
    FloatSeconds,
    /// Epoch milliseconds as an integer: Sidekiq 8 only.
    IntegerMillis,
}

impl TimestampFormat {
    /// The format for a Sidekiq major version, if we support it.
    pub fn for_sidekiq(version: u8) -> Option<Self> {
        match version {
            6 | 7 => Some(Self::FloatSeconds),
            8 => Some(Self::IntegerMillis),
            _ => None,
        }
    }

    fn encode(self, epoch_ms: i64) -> Timestamp {
        match self {
            Self::FloatSeconds => Timestamp::Seconds(epoch_ms as f64 / 1000.0),
            Self::IntegerMillis => Timestamp::Millis(epoch_ms),
        }
    }
}

/// Sidekiq's `retry`: on or off, or a number of attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Retry {
    Enabled(bool),
    Attempts(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
enum Timestamp {
    Seconds(f64),
    Millis(i64),
}

/// What a route decides about the jobs it enqueues.
#[derive(Debug, Clone)]
pub struct JobSettings {
    pub queue: String,
    pub class: String,
    pub retry: Retry,
    /// Milliseconds after `enqueued_at_ms` beyond which the worker expires the job.
    pub lifespan_ms: i64,
    pub timestamps: TimestampFormat,
}

/// The booking a client asked for, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub id: Uuid,
    pub event_id: i64,
    pub user_ref: String,
    pub quantity: i64,
}

/// Positional `args`: booking_id, event_id, user_ref, quantity, enqueued_at_ms.
type Args<'a> = (String, i64, &'a str, i64, i64);

#[derive(Serialize)]
struct Payload<'a> {
    class: &'a str,
    args: Args<'a>,
    queue: &'a str,
    jid: &'a str,
    retry: Retry,
    created_at: Timestamp,
    enqueued_at: Timestamp,
    /// Not a Sidekiq field: Sidekiq keeps unknown top-level keys, and the worker reads
    /// the booking's lifespan from here.
    lifespan_ms: i64,
}

/// The JSON payload to `LPUSH` for `booking`, accepted at `now_ms` with job id `jid`.
pub fn payload(settings: &JobSettings, booking: &Booking, jid: &str, now_ms: i64) -> String {
    let at = settings.timestamps.encode(now_ms);
    let payload = Payload {
        class: &settings.class,
        args: (
            booking.id.hyphenated().to_string(),
            booking.event_id,
            &booking.user_ref,
            booking.quantity,
            now_ms,
        ),
        queue: &settings.queue,
        jid,
        retry: settings.retry,
        created_at: at,
        enqueued_at: at,
        lifespan_ms: settings.lifespan_ms,
    };
    // Serializing plain strings and numbers cannot fail.
    serde_json::to_string(&payload).expect("a booking payload always serializes")
}

/// A new Sidekiq job id: 24 lowercase hex characters, as Sidekiq makes its own.
pub fn new_jid() -> String {
    let bytes: [u8; 12] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn settings(timestamps: TimestampFormat) -> JobSettings {
        JobSettings {
            queue: "bookings".into(),
            class: "BookingJob".into(),
            retry: Retry::Attempts(3),
            lifespan_ms: 120_000,
            timestamps,
        }
    }

    fn booking() -> Booking {
        Booking {
            id: Uuid::parse_str("6f1c2a9e-3b7d-4c1e-9a55-0d2f8e7b6a41").unwrap(),
            event_id: 7,
            user_ref: "fan-1".into(),
            quantity: 2,
        }
    }

    #[test]
    fn payload_follows_the_contract_field_by_field() {
        let text = payload(
            &settings(TimestampFormat::FloatSeconds),
            &booking(),
            "0123456789abcdef01234567",
            1_764_864_000_123,
        );
        let job: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(job["class"], "BookingJob");
        assert_eq!(job["queue"], "bookings");
        assert_eq!(job["jid"], "0123456789abcdef01234567");
        assert_eq!(job["retry"], 3);
        assert_eq!(
            job["args"],
            serde_json::json!([
                "6f1c2a9e-3b7d-4c1e-9a55-0d2f8e7b6a41",
                7,
                "fan-1",
                2,
                1_764_864_000_123_i64
            ])
        );
        assert!(job["args"][4].is_i64());
        assert!(job["created_at"].is_f64());
        assert_eq!(job["created_at"].as_f64(), Some(1_764_864_000.123));
        assert_eq!(job["enqueued_at"], job["created_at"]);
    }

    #[test]
    fn whole_seconds_are_still_written_as_floats() {
        let text = payload(
            &settings(TimestampFormat::FloatSeconds),
            &booking(),
            "j",
            1_764_864_000_000,
        );
        assert!(text.contains("\"created_at\":1764864000.0"), "{text}");
    }

    #[test]
    fn sidekiq_8_gets_integer_milliseconds() {
        let text = payload(
            &settings(TimestampFormat::IntegerMillis),
            &booking(),
            "j",
            1_764_864_000_123,
        );
        let job: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(job["enqueued_at"].as_i64(), Some(1_764_864_000_123));
        assert_eq!(
            TimestampFormat::for_sidekiq(7),
            Some(TimestampFormat::FloatSeconds)
        );
        assert_eq!(
            TimestampFormat::for_sidekiq(8),
            Some(TimestampFormat::IntegerMillis)
        );
        assert_eq!(TimestampFormat::for_sidekiq(5), None);
    }

    #[test]
    fn jids_look_like_sidekiqs() {
        let jid = new_jid();
        assert_eq!(jid.len(), 24);
        assert!(jid
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(jid, new_jid());
    }
}
