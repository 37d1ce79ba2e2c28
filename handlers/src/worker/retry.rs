//! Sidekiq's retry conventions, for failures that are not the job's fault.
//!
//! A failed job goes back to Redis with the fields Sidekiq adds (`retry_count`,
//! `error_message`, `error_class`, `failed_at`, `retried_at`), either to the `retry`
//! sorted set, scored by its next attempt, or, out of attempts, to `dead`. The Sidekiq
//! Web UI then shows it exactly as it shows the Ruby worker's failures. The poller that
//! moves due retries back to their queue lives in [`super::poller`].

use redis::Pipeline;
use serde_json::{json, Map, Value};

use super::job::Job;
use super::keys;
use crate::bookings::job::{Retry, TimestampFormat};

/// Attempts after the first when a job says `"retry": true` (Sidekiq's default).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 25;
/// Longest `error_message` kept, in characters, as Sidekiq cuts it.
pub const MAX_ERROR_MESSAGE_CHARS: usize = 10_000;
/// Sidekiq's bounds on `dead`: at most this many jobs...
pub const DEAD_MAX_JOBS: i64 = 10_000;
/// ...and none older than six months.
pub const DEAD_TIMEOUT_SECONDS: f64 = 180.0 * 24.0 * 60.0 * 60.0;

/// Where a failed job goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Disposition {
    /// To `retry`, due at this epoch time in seconds.
    Retry { at_seconds: f64 },
    /// To `dead`.
    Dead,
}

/// A failed job, ready to be written back.
#[derive(Debug, Clone, PartialEq)]
pub struct Failed {
    /// The payload with Sidekiq's retry fields.
    pub payload: String,
    /// 0 on the first failure, then one more each time.
    pub retry_count: u64,
    pub disposition: Disposition,
}

/// What went wrong, in Sidekiq's terms.
#[derive(Debug, Clone, Copy)]
pub struct Error<'a> {
    /// Sidekiq's `error_class`: a Ruby-style class name.
    pub class: &'a str,
    /// Sidekiq's `error_message`; cut to [`MAX_ERROR_MESSAGE_CHARS`].
    pub message: &'a str,
}

/// How many retries a job's `retry` allows.
///
/// `false` allows none. Sidekiq itself drops a failed `"retry": false` job without
/// keeping it; here it goes to `dead` instead, so that no booking disappears unseen.
pub fn max_attempts(retry: Retry) -> u32 {
    match retry {
        Retry::Enabled(true) => DEFAULT_MAX_ATTEMPTS,
        Retry::Enabled(false) => 0,
        Retry::Attempts(count) => count,
    }
}

/// Sidekiq's delay before retry number `count` (0 for the first):
/// `count⁴ + 15 + jitter × (count + 1)` seconds, `jitter` drawn from 0 to 9.
pub fn backoff_seconds(count: u64, jitter: u32) -> f64 {
    let count = count as f64;
    count.powi(4) + 15.0 + f64::from(jitter) * (count + 1.0)
}

/// A Sidekiq timestamp for `now_ms` in the unit the job uses.
pub fn timestamp(format: TimestampFormat, now_ms: i64) -> Value {
    match format {
        TimestampFormat::FloatSeconds => json!(now_ms as f64 / 1000.0),
        TimestampFormat::IntegerMillis => json!(now_ms),
    }
}

/// Adds Sidekiq's retry fields to `job` for a failure at `now_ms` and decides where it
/// goes; `jitter` (0 to 9) spreads retries as Sidekiq's `rand(10)` does.
pub fn record_failure(job: &Job, error: Error<'_>, now_ms: i64, jitter: u32) -> Failed {
    let mut fields = job.fields.clone();
    let at = timestamp(job.timestamp_format(), now_ms);
    let retry_count = add_retry_fields(&mut fields, error, at);

    let disposition = if retry_count < u64::from(max_attempts(job.retry())) {
        let delay = backoff_seconds(retry_count, jitter);
        Disposition::Retry {
            at_seconds: now_ms as f64 / 1000.0 + delay,
        }
    } else {
        Disposition::Dead
    };
    Failed {
        payload: Value::Object(fields).to_string(),
        retry_count,
        disposition,
    }
}

/// Sets Sidekiq's fields for a failure at `at`; returns the new `retry_count`.
fn add_retry_fields(fields: &mut Map<String, Value>, error: Error<'_>, at: Value) -> u64 {
    let retry_count = match fields.get("retry_count").and_then(Value::as_u64) {
        // Sidekiq keeps the first failure's time and notes the latest separately.
        Some(count) => {
            fields.insert("retried_at".into(), at);
            count.saturating_add(1)
        }
        None => {
            fields.insert("failed_at".into(), at);
            0
        }
    };
    let message: String = error
        .message
        .chars()
        .take(MAX_ERROR_MESSAGE_CHARS)
        .collect();
    fields.insert("retry_count".into(), json!(retry_count));
    fields.insert("error_message".into(), json!(message));
    fields.insert("error_class".into(), json!(error.class));
    retry_count
}

/// Adds the commands that file `failed` under `retry` or `dead` to `pipe`.
pub fn file(pipe: &mut Pipeline, failed: &Failed, now_ms: i64) {
    let now_seconds = now_ms as f64 / 1000.0;
    match failed.disposition {
        Disposition::Retry { at_seconds } => {
            pipe.zadd(keys::RETRY, &failed.payload, at_seconds).ignore();
        }
        Disposition::Dead => {
            pipe.zadd(keys::DEAD, &failed.payload, now_seconds).ignore();
            // Sidekiq keeps `dead` bounded in age and size; so do we.
            let oldest = now_seconds - DEAD_TIMEOUT_SECONDS;
            pipe.zrembyscore(keys::DEAD, "-inf", oldest).ignore();
            pipe.zremrangebyrank(keys::DEAD, 0, -(DEAD_MAX_JOBS as isize) - 1)
                .ignore();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: i64 = 1_764_864_000_250;

    fn job(text: &str) -> Job {
        Job::parse(text.to_owned()).unwrap()
    }

    fn error() -> Error<'static> {
        Error {
            class: "Switchyard::DatabaseUnavailable",
            message: "pool timed out",
        }
    }

    fn fields(failed: &Failed) -> serde_json::Map<String, Value> {
        match serde_json::from_str(&failed.payload).unwrap() {
            Value::Object(fields) => fields,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn backoff_is_sidekiqs() {
        let cases = [
            (0, 0, 15.0),
            (0, 9, 24.0),
            (1, 0, 16.0),
            (1, 9, 34.0),
            (2, 3, 16.0 + 15.0 + 9.0),
            (10, 5, 10_000.0 + 15.0 + 55.0),
            (24, 0, 331_776.0 + 15.0),
        ];
        for (count, jitter, seconds) in cases {
            assert_eq!(backoff_seconds(count, jitter), seconds, "{count} {jitter}");
        }
    }

    #[test]
    fn attempts_follow_the_retry_field() {
        let cases = [
            (Retry::Enabled(true), 25),
            (Retry::Enabled(false), 0),
            (Retry::Attempts(3), 3),
            (Retry::Attempts(0), 0),
        ];
        for (retry, attempts) in cases {
            assert_eq!(max_attempts(retry), attempts, "{retry:?}");
        }
    }

    #[test]
    fn a_first_failure_gets_failed_at_and_count_zero() {
        let original =
            job(r#"{"class":"BookingJob","jid":"j","retry":true,"enqueued_at":1.5,"x":1}"#);
        let failed = record_failure(&original, error(), NOW_MS, 4);
        let fields = fields(&failed);
        assert_eq!(failed.retry_count, 0);
        assert_eq!(fields["retry_count"], 0);
        assert_eq!(fields["failed_at"].as_f64(), Some(1_764_864_000.25));
        assert!(fields["failed_at"].is_f64());
        assert!(!fields.contains_key("retried_at"));
        assert_eq!(fields["error_class"], "Switchyard::DatabaseUnavailable");
        assert_eq!(fields["error_message"], "pool timed out");
        assert_eq!(fields["x"], 1, "unknown keys are kept");
        let due = 1_764_864_000.25 + 15.0 + 4.0;
        assert_eq!(failed.disposition, Disposition::Retry { at_seconds: due });
    }

    #[test]
    fn a_later_failure_counts_up_and_keeps_failed_at() {
        let original =
            job(r#"{"retry":3,"retry_count":1,"failed_at":1.5,"enqueued_at":1764864000000}"#);
        let failed = record_failure(&original, error(), NOW_MS, 0);
        let fields = fields(&failed);
        assert_eq!(fields["retry_count"], 2);
        assert_eq!(fields["failed_at"], 1.5);
        assert_eq!(fields["retried_at"], NOW_MS, "integer ms, as the job uses");
        assert!(matches!(failed.disposition, Disposition::Retry { .. }));
    }

    #[test]
    fn exhausted_failures_are_dead() {
        let cases = [
            r#"{"retry":false}"#,
            r#"{"retry":0}"#,
            r#"{"retry":3,"retry_count":2}"#,
            r#"{"retry":true,"retry_count":24}"#,
        ];
        for text in cases {
            let failed = record_failure(&job(text), error(), NOW_MS, 0);
            assert_eq!(failed.disposition, Disposition::Dead, "{text}");
        }
        let retried = record_failure(&job(r#"{"retry":3,"retry_count":1}"#), error(), 0, 0);
        assert!(matches!(retried.disposition, Disposition::Retry { .. }));
    }

    #[test]
    fn long_error_messages_are_cut() {
        let long = "é".repeat(MAX_ERROR_MESSAGE_CHARS + 5);
        let error = Error {
            message: &long,
            ..error()
        };
        let failed = record_failure(&job("{}"), error, NOW_MS, 0);
        let message = fields(&failed)["error_message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(message.chars().count(), MAX_ERROR_MESSAGE_CHARS);
    }
}
