//! A fetched Sidekiq job: the payload as Redis holds it, and the fields the worker
//! reads from it.
//!
//! The payload is kept whole, unknown keys included, because a failed job goes back to
//! Redis with Sidekiq's retry fields added and everything else untouched.

use serde_json::{Map, Value};

use crate::bookings::job::{Retry, TimestampFormat};

/// A job as fetched.
#[derive(Debug, Clone)]
pub struct Job {
    /// The payload exactly as fetched: the value that removes it from the in-progress
    /// list.
    pub raw: String,
    /// The payload parsed.
    pub fields: Map<String, Value>,
}

/// A payload that is not a JSON object, handed back as fetched.
#[derive(Debug, thiserror::Error)]
#[error("payload is not a JSON object")]
pub struct Unreadable(pub String);

impl Job {
    /// Parses a payload; anything but a JSON object is [`Unreadable`].
    pub fn parse(raw: String) -> Result<Job, Unreadable> {
        match serde_json::from_str(&raw) {
            Ok(Value::Object(fields)) => Ok(Job { raw, fields }),
            _ => Err(Unreadable(raw)),
        }
    }

    /// `class`, when it is a string.
    pub fn class(&self) -> Option<&str> {
        self.fields.get("class").and_then(Value::as_str)
    }

    /// `jid`, or empty when the payload has none.
    pub fn jid(&self) -> &str {
        self.fields.get("jid").and_then(Value::as_str).unwrap_or("")
    }

    /// The positional `args`; empty when missing. `None` when `args` is not an array.
    pub fn args(&self) -> Option<&[Value]> {
        match self.fields.get("args") {
            None => Some(&[]),
            Some(Value::Array(args)) => Some(args),
            Some(_) => None,
        }
    }

    /// Sidekiq's `retry`. Absent means Sidekiq's default, on; a value Sidekiq could
    /// not read as a count (a negative number, a string) means no retries.
    pub fn retry(&self) -> Retry {
        match self.fields.get("retry") {
            None => Retry::Enabled(true),
            Some(value) => serde_json::from_value(value.clone()).unwrap_or(Retry::Attempts(0)),
        }
    }

    /// `lifespan_ms` when it is a positive integer, else `default_ms`.
    pub fn lifespan_ms(&self, default_ms: i64) -> i64 {
        self.fields
            .get("lifespan_ms")
            .and_then(Value::as_i64)
            .filter(|ms| *ms > 0)
            .unwrap_or(default_ms)
    }

    /// How this job writes its timestamps: integer milliseconds when its
    /// `enqueued_at` (or `created_at`) is an integer (Sidekiq 8), else float seconds.
    pub fn timestamp_format(&self) -> TimestampFormat {
        let stamp = self
            .fields
            .get("enqueued_at")
            .or_else(|| self.fields.get("created_at"));
        match stamp {
            Some(value) if value.is_i64() || value.is_u64() => TimestampFormat::IntegerMillis,
            _ => TimestampFormat::FloatSeconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(text: &str) -> Job {
        Job::parse(text.to_owned()).unwrap()
    }

    #[test]
    fn only_json_objects_are_jobs() {
        for bad in ["", "not json", "[1,2]", "\"BookingJob\"", "{\"class\":"] {
            assert!(Job::parse(bad.to_owned()).is_err(), "{bad}");
        }
        let parsed = job(r#"{"class":"BookingJob","jid":"ab","args":[1],"x":true}"#);
        assert_eq!(parsed.class(), Some("BookingJob"));
        assert_eq!(parsed.jid(), "ab");
        assert_eq!(parsed.args().map(<[Value]>::len), Some(1));
        assert_eq!(parsed.fields["x"], true);
    }

    #[test]
    fn retry_reads_as_sidekiq_does() {
        let cases = [
            (r#"{}"#, Retry::Enabled(true)),
            (r#"{"retry":true}"#, Retry::Enabled(true)),
            (r#"{"retry":false}"#, Retry::Enabled(false)),
            (r#"{"retry":3}"#, Retry::Attempts(3)),
            (r#"{"retry":-1}"#, Retry::Attempts(0)),
            (r#"{"retry":"yes"}"#, Retry::Attempts(0)),
        ];
        for (text, expected) in cases {
            assert_eq!(job(text).retry(), expected, "{text}");
        }
    }

    #[test]
    fn lifespan_falls_back_to_the_default() {
        let cases = [
            (r#"{"lifespan_ms":45000}"#, 45_000),
            (r#"{}"#, 120_000),
            (r#"{"lifespan_ms":0}"#, 120_000),
            (r#"{"lifespan_ms":"45s"}"#, 120_000),
            (r#"{"lifespan_ms":1.5}"#, 120_000),
        ];
        for (text, expected) in cases {
            assert_eq!(job(text).lifespan_ms(120_000), expected, "{text}");
        }
    }

    #[test]
    fn timestamp_format_follows_the_job() {
        let cases = [
            (
                r#"{"enqueued_at":1764864000.123}"#,
                TimestampFormat::FloatSeconds,
            ),
            (
                r#"{"enqueued_at":1764864000123}"#,
                TimestampFormat::IntegerMillis,
            ),
            (
                r#"{"created_at":1764864000123}"#,
                TimestampFormat::IntegerMillis,
            ),
            (r#"{}"#, TimestampFormat::FloatSeconds),
        ];
        for (text, expected) in cases {
            assert_eq!(job(text).timestamp_format(), expected, "{text}");
        }
    }

    #[test]
    fn args_must_be_an_array_when_present() {
        assert_eq!(job(r#"{}"#).args().map(<[Value]>::len), Some(0));
        assert!(job(r#"{"args":{"a":1}}"#).args().is_none());
    }
}
