//! Support library for Switchyard's end-to-end suites.
//!
//! The suites run the real `switchyard` binary against a real PostgreSQL, a real
//! Redis and a recording stand-in for the legacy app. Every helper here isolates
//! its state (a fresh database, a unique queue name, a temp dir, port 0) so that
//! many test binaries can run in parallel against the same servers.

pub mod client;
pub mod database;
pub mod edge;
mod process;
pub mod redis_server;
pub mod sidekiq;
pub mod stack;
pub mod upstream;
pub mod worker;

// Private so a glob import of this crate does not shadow the `redis` crate.
mod redis;
mod wire;

use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;

pub use client::{
    build_request, get, get_with, post_json, request, send_raw, try_send_raw, Connection, Response,
    READ_TIMEOUT,
};
pub use database::{admin_url, TestDatabase};
pub use edge::{
    binary_path, run_check, run_check_env, CheckOutput, Edge, EdgeConfig, Signal, StartError,
};
pub use redis::TestRedis;
pub use redis_server::PrivateRedis;
pub use sidekiq::SidekiqWorker;
pub use stack::{shipped_routes, Stack};
pub use upstream::{RecordedRequest, RecordingUpstream, Reply};
pub use worker::{now_ms, poll, BookingJob, Updates, WorkerConfig, WorkerProcess};

/// The Cargo workspace this crate belongs to.
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .expect("the tests crate lives inside the workspace")
        .to_path_buf()
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// The port is released before returning, so another process may take it in
/// between; callers that spawn a server on it should retry on "address in use".
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener
        .local_addr()
        .expect("local address of a bound listener")
        .port()
}

/// `len` random bytes as lower-case hex, for names that parallel tests must not share.
pub fn random_hex(len: usize) -> String {
    (0..len)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

#[cfg(test)]
mod send_checks {
    use std::net::Ipv4Addr;

    /// Compiles only when `value` is `Send`.
    fn assert_send<T: Send>(_value: T) {}

    #[test]
    fn async_helpers_can_be_spawned() {
        // The futures are only built, never run: this is a compile-time check.
        let addr = std::net::SocketAddr::from((Ipv4Addr::LOCALHOST, 1));
        assert_send(crate::TestDatabase::create());
        assert_send(crate::TestRedis::connect());
        assert_send(crate::RecordingUpstream::start());
        assert_send(crate::Edge::start(crate::EdgeConfig::default()));
        assert_send(crate::get(addr, "/"));
    }
}
