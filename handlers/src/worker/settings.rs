//! What an operator chooses for a worker, with the contract's defaults.

use std::time::Duration;

use super::error::WorkerError;

/// A worker's settings; [`WorkerSettings::default`] holds the documented defaults.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Redis URL with its database, the one the edge enqueues to.
    pub redis_url: String,
    /// PostgreSQL URL of a role that may write `bookings` and `events`, never the edge's
    /// read-only role.
    pub database_url: String,
    /// Sidekiq queue to fetch from (`bookings`): the list `queue:<queue>`.
    pub queue: String,
    /// Job class this worker runs (`BookingJob`); any other class fails as Sidekiq
    /// fails an unknown class.
    pub job_class: String,
    /// Jobs run at once (5), each with its own fetching Redis connection and, while
    /// running, its own PostgreSQL connection.
    pub concurrency: usize,
    /// Lifespan of a job whose payload has no `lifespan_ms` (2 minutes).
    pub lifespan: Duration,
    /// After SIGTERM, how long jobs in flight may take to finish (25 s, as Sidekiq).
    pub shutdown_timeout: Duration,
    /// How long a silent worker counts as alive (30 s). It beats three times per TTL;
    /// a shorter TTL gives a dead worker's jobs back sooner.
    pub heartbeat_ttl: Duration,
    /// How often dead workers are looked for and due retries moved (5 s, jittered).
    pub poll_interval: Duration,
    /// Longest wait for a Redis or PostgreSQL connection (5 s).
    pub connect_timeout: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            redis_url: "redis://127.0.0.1:6379/0".into(),
            database_url: "postgres://postgres@127.0.0.1:5432/switchyard".into(),
            queue: "bookings".into(),
            job_class: "BookingJob".into(),
            concurrency: 5,
            lifespan: Duration::from_secs(120),
            shutdown_timeout: Duration::from_secs(25),
            heartbeat_ttl: Duration::from_secs(30),
            poll_interval: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Most jobs one worker runs at once; more wants more processes.
pub const MAX_CONCURRENCY: usize = 200;

impl WorkerSettings {
    /// Checks every setting; the error names the flag to fix.
    pub fn check(&self) -> Result<(), WorkerError> {
        let wrong = |name, message: &str| {
            Err(WorkerError::Setting {
                name,
                message: message.to_owned(),
            })
        };
        let schemes = ["postgres://", "postgresql://"];
        if !schemes.iter().any(|s| self.database_url.starts_with(s)) {
            return wrong(
                "database-url",
                "must start with postgres:// or postgresql://",
            );
        }
        if self.queue.is_empty() {
            return wrong("queue", "must not be empty");
        }
        if self.job_class.is_empty() {
            return wrong("job-class", "must not be empty");
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            let message = format!("must be from 1 to {MAX_CONCURRENCY}");
            return wrong("concurrency", &message);
        }
        if self.lifespan.is_zero() {
            return wrong("lifespan", "must be longer than zero");
        }
        if self.heartbeat_ttl < Duration::from_secs(1) {
            return wrong("heartbeat-ttl", "must be at least 1s");
        }
        if self.poll_interval < Duration::from_millis(100) {
            return wrong("poll-interval", "must be at least 100ms");
        }
        if self.connect_timeout.is_zero() {
            return wrong("connect-timeout", "must be longer than zero");
        }
        Ok(())
    }

    /// The lifespan in milliseconds, as payloads carry it.
    pub fn lifespan_ms(&self) -> i64 {
        self.lifespan.as_millis().try_into().unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_each_bad_setting_is_named() {
        assert!(WorkerSettings::default().check().is_ok());
        assert_eq!(WorkerSettings::default().lifespan_ms(), 120_000);

        type BreakIt = fn(&mut WorkerSettings);
        let cases: [(&str, BreakIt); 8] = [
            ("database-url", |s| s.database_url = "mysql://x".into()),
            ("queue", |s| s.queue.clear()),
            ("job-class", |s| s.job_class.clear()),
            ("concurrency", |s| s.concurrency = 0),
            ("concurrency", |s| s.concurrency = MAX_CONCURRENCY + 1),
            ("lifespan", |s| s.lifespan = Duration::ZERO),
            ("heartbeat-ttl", |s| {
                s.heartbeat_ttl = Duration::from_millis(500)
            }),
            ("poll-interval", |s| {
                s.poll_interval = Duration::from_millis(10)
            }),
        ];
        for (flag, break_it) in cases {
            let mut settings = WorkerSettings::default();
            break_it(&mut settings);
            match settings.check() {
                Err(WorkerError::Setting { name, .. }) => assert_eq!(name, flag),
                other => panic!("{flag}: {other:?}"),
            }
        }
    }
}
