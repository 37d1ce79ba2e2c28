//! What a booking job decides: a status and a reason, as the status record, the
//! published update and the `bookings` row all show them.

use std::fmt;

/// Reason for a rejection when the event has fewer seats left than asked for.
pub const SOLD_OUT: &str = "sold_out";
/// Reason for a rejection when no event has the job's `event_id`.
pub const UNKNOWN_EVENT: &str = "unknown_event";
/// Reason for an expired job.
pub const LIFESPAN_EXCEEDED: &str = "lifespan_exceeded";

/// A booking's status, as the contract spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Accepted by the edge, not yet run. The worker never writes it, but may read it
    /// back from a row another writer made.
    Pending,
    Confirmed,
    Rejected,
    Expired,
}

impl Status {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
        }
    }

    /// Reads the contract's spelling back (from a `bookings` row).
    pub fn parse(text: &str) -> Option<Status> {
        [
            Self::Pending,
            Self::Confirmed,
            Self::Rejected,
            Self::Expired,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status with its reason; the reason is empty when confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub reason: String,
}

impl Outcome {
    /// Seats taken.
    pub fn confirmed() -> Outcome {
        Outcome {
            status: Status::Confirmed,
            reason: String::new(),
        }
    }

    /// Refused for `reason`; no seats taken.
    pub fn rejected(reason: impl Into<String>) -> Outcome {
        Outcome {
            status: Status::Rejected,
            reason: reason.into(),
        }
    }

    /// Picked up after its lifespan; no seats taken.
    pub fn expired() -> Outcome {
        Outcome {
            status: Status::Expired,
            reason: LIFESPAN_EXCEEDED.to_owned(),
        }
    }
}

/// Whether a job accepted at `enqueued_at_ms` is past its lifespan at `now_ms`.
///
/// Exactly `lifespan_ms` old is still in time: the contract expires jobs *older* than
/// their lifespan. A clock that runs behind the edge's gives a negative age, which is
/// in time.
pub fn is_expired(now_ms: i64, enqueued_at_ms: i64, lifespan_ms: i64) -> bool {
    now_ms.saturating_sub(enqueued_at_ms) > lifespan_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifespan_decision() {
        let enqueued = 1_764_864_000_000;
        let cases = [
            (enqueued, 120_000, false),
            (enqueued + 119_999, 120_000, false),
            (enqueued + 120_000, 120_000, false),
            (enqueued + 120_001, 120_000, true),
            (enqueued + 3_600_000, 120_000, true),
            (enqueued - 5_000, 120_000, false),
            (enqueued + 1, 1, false),
            (enqueued + 2, 1, true),
            (i64::MAX, 120_000, true),
        ];
        for (now, lifespan, expired) in cases {
            assert_eq!(
                is_expired(now, enqueued, lifespan),
                expired,
                "now {now}, lifespan {lifespan}"
            );
        }
    }

    #[test]
    fn statuses_round_trip_their_spelling() {
        for status in [
            Status::Pending,
            Status::Confirmed,
            Status::Rejected,
            Status::Expired,
        ] {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        assert_eq!(Status::parse("done"), None);
        assert_eq!(Outcome::expired().reason, "lifespan_exceeded");
        assert_eq!(Outcome::confirmed().reason, "");
    }
}
