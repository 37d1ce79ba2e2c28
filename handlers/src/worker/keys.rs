//! Redis key names and the worker's identity.
//!
//! Sidekiq's own keys (`queue:<name>`, `queues`, `retry`, `dead`) are shared with the
//! Ruby worker and keep Sidekiq's names. Everything only this worker uses lives under
//! `switchyard:` so it can never collide with Sidekiq's or the Rails app's keys.

use std::fmt;

/// Sidekiq's set of queue names.
pub const QUEUES: &str = "queues";
/// Sidekiq's sorted set of jobs waiting for another attempt, scored by when.
pub const RETRY: &str = "retry";
/// Sidekiq's sorted set of jobs out of attempts, scored by when they died.
pub const DEAD: &str = "dead";
/// The channel outcomes are published on, as the contract names it.
pub const UPDATES_CHANNEL: &str = "bookings:updates";
/// Hash of every registered worker: identity → the queue it fetches from.
pub const WORKERS: &str = "switchyard:workers";
/// List of payloads that are not JSON objects, kept for an operator to inspect.
///
/// Not `dead`: the Sidekiq Web UI parses every entry there and would fail on them.
pub const UNREADABLE: &str = "switchyard:unreadable";

/// Sidekiq's list for `queue`.
pub fn queue(queue: &str) -> String {
    format!("queue:{queue}")
}

/// Who a worker process is: `hostname:pid:random hex`, unique across restarts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity(String);

impl Identity {
    /// The identity of this process, with fresh randomness.
    pub fn generate() -> Identity {
        let nonce: [u8; 6] = rand::random();
        let nonce: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        Identity(format!("{}:{}:{nonce}", hostname(), std::process::id()))
    }

    /// An identity read back from the worker registry.
    pub fn from_registry(text: String) -> Identity {
        Identity(text)
    }

    /// The identity as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key that exists while this worker is alive; its TTL is the heartbeat.
    pub fn heartbeat_key(&self) -> String {
        format!("switchyard:worker:{}:heartbeat", self.0)
    }

    /// The list holding the jobs this worker fetched and has not yet settled.
    pub fn in_progress_key(&self) -> String {
        format!("switchyard:worker:{}:inprogress", self.0)
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The machine's host name, or `localhost` where the kernel does not say.
fn hostname() -> String {
    let from_kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").ok();
    from_kernel
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_host_pid_and_random_hex() {
        let identity = Identity::generate();
        let parts: Vec<&str> = identity.as_str().rsplitn(3, ':').collect();
        assert_eq!(parts.len(), 3, "{identity}");
        assert_eq!(parts[0].len(), 12);
        assert!(parts[0].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(parts[1], std::process::id().to_string());
        assert!(!parts[2].is_empty());
        assert_ne!(identity, Identity::generate());
    }

    #[test]
    fn keys_follow_the_documented_names() {
        let identity = Identity::from_registry("web-1:42:00aa".into());
        assert_eq!(
            identity.heartbeat_key(),
            "switchyard:worker:web-1:42:00aa:heartbeat"
        );
        assert_eq!(
            identity.in_progress_key(),
            "switchyard:worker:web-1:42:00aa:inprogress"
        );
        assert_eq!(queue("bookings"), "queue:bookings");
    }
}
