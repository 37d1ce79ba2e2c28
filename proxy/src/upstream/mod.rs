//! Named upstreams: where passed-through requests go, and how long to wait for them.
//!
//! Each request takes the next healthy address in turn; an address the active health
//! check ([`checker`]) has marked down is skipped until it recovers, and when every
//! address is down they are all tried anyway (a `502` beats refusing outright). A
//! retry (decided in `edge::retry`) goes to an address this request has not tried.
//!
//! Connections to every address are pooled by Pingora and reused across requests; they
//! always speak HTTP/1.1, because an HTTP/2 upstream connection in current Pingora can
//! replay a non-idempotent request after a connection error.

pub mod checker;
pub mod health;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pingora::upstreams::peer::HttpPeer;

pub use checker::HealthChecker;
use health::AddressHealth;
pub use health::HealthCheck;

/// Most extra attempts one request gets, however many addresses there are: each
/// costs up to a connect timeout, and a client waiting that long has given up.
const MAX_RETRIES: usize = 3;

/// Timeouts for one upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamTimeouts {
    /// Longest wait for a TCP connection.
    pub connect: Duration,
    /// Longest wait between two reads of the response; over it the client gets `504`.
    pub read: Duration,
    /// Longest wait for a write of the request to complete.
    pub write: Duration,
    /// How long an unused pooled connection is kept.
    pub idle: Duration,
}

impl Default for UpstreamTimeouts {
    fn default() -> Self {
        UpstreamTimeouts {
            connect: Duration::from_secs(2),
            read: Duration::from_secs(30),
            write: Duration::from_secs(30),
            idle: Duration::from_secs(60),
        }
    }
}

/// One named upstream: its addresses, their health, and how they are reached.
#[derive(Debug)]
pub struct Upstream {
    pub name: String,
    addresses: Vec<SocketAddr>,
    /// One entry per address, same order.
    health: Vec<AddressHealth>,
    health_check: HealthCheck,
    timeouts: UpstreamTimeouts,
    next: AtomicUsize,
}

impl Upstream {
    /// An upstream over `addresses`, which must not be empty, checked with the
    /// default health check.
    pub fn new(name: String, addresses: Vec<SocketAddr>, timeouts: UpstreamTimeouts) -> Self {
        assert!(!addresses.is_empty(), "an upstream needs an address");
        Upstream {
            name,
            health: addresses.iter().map(|_| AddressHealth::new()).collect(),
            addresses,
            health_check: HealthCheck::default(),
            timeouts,
            next: AtomicUsize::new(0),
        }
    }

    /// The same upstream, checked with `check`.
    pub fn with_health_check(mut self, check: HealthCheck) -> Self {
        self.health_check = check;
        self
    }

    pub fn addresses(&self) -> &[SocketAddr] {
        &self.addresses
    }

    pub fn health_check(&self) -> &HealthCheck {
        &self.health_check
    }

    /// Whether the address at `index` of [`Self::addresses`] takes traffic.
    pub fn is_healthy(&self, index: usize) -> bool {
        self.health[index].is_healthy()
    }

    /// Marks the address at `index`; only the health checker should.
    pub fn set_healthy(&self, index: usize, healthy: bool) {
        self.health[index].set(healthy);
    }

    /// Most extra attempts a request may make: one per address, at most [`MAX_RETRIES`].
    /// A single address still gets one, for a pooled connection that turned out dead.
    pub fn max_retries(&self) -> usize {
        self.addresses.len().min(MAX_RETRIES)
    }

    /// The peer for the next attempt of a request that already tried `tried`.
    pub fn next_peer(&self, tried: &[SocketAddr]) -> Box<HttpPeer> {
        self.peer(self.pick(tried))
    }

    /// The next address in turn, preferring, in order: healthy and untried, untried,
    /// then any (every address was tried: take turns again).
    fn pick(&self, tried: &[SocketAddr]) -> SocketAddr {
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.addresses.len();
        let in_turn = (0..count).map(|offset| (turn + offset) % count);
        let untried = |index: &usize| !tried.contains(&self.addresses[*index]);

        let index = in_turn
            .clone()
            .find(|index| self.is_healthy(*index) && untried(index))
            .or_else(|| in_turn.clone().find(untried))
            .unwrap_or(turn % count);
        self.addresses[index]
    }

    fn peer(&self, address: SocketAddr) -> Box<HttpPeer> {
        let mut peer = HttpPeer::new(address, false, String::new());
        let options = &mut peer.options;
        options.connection_timeout = Some(self.timeouts.connect);
        options.read_timeout = Some(self.timeouts.read);
        options.write_timeout = Some(self.timeouts.write);
        options.idle_timeout = Some(self.timeouts.idle);
        Box::new(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> Upstream {
        let addresses = ["127.0.0.1:3001", "127.0.0.1:3002", "127.0.0.1:3003"];
        let addresses = addresses.iter().map(|a| a.parse().unwrap()).collect();
        Upstream::new("legacy".into(), addresses, UpstreamTimeouts::default())
    }

    /// Ports of `count` first attempts, each with nothing tried yet.
    fn ports(upstream: &Upstream, count: usize) -> Vec<u16> {
        (0..count).map(|_| upstream.pick(&[]).port()).collect()
    }

    #[test]
    fn addresses_are_taken_in_turn() {
        assert_eq!(ports(&three(), 4), [3001, 3002, 3003, 3001]);
    }

    #[test]
    fn unhealthy_addresses_are_skipped_until_all_are() {
        let upstream = three();
        upstream.set_healthy(1, false);
        assert_eq!(ports(&upstream, 4), [3001, 3003, 3003, 3001]);

        upstream.set_healthy(0, false);
        upstream.set_healthy(2, false);
        assert_eq!(ports(&upstream, 3), [3002, 3003, 3001]);

        upstream.set_healthy(1, true);
        assert_eq!(ports(&upstream, 2), [3002, 3002]);
    }

    #[test]
    fn a_retry_goes_to_an_address_not_tried() {
        let upstream = three();
        let first = upstream.pick(&[]);
        let second = upstream.pick(&[first]);
        let third = upstream.pick(&[first, second]);
        assert!(first != second && second != third && first != third);

        // Untried but down beats tried; with everything tried, turns go on.
        upstream.set_healthy(2, false);
        let tried: Vec<SocketAddr> = upstream.addresses()[..2].to_vec();
        assert_eq!(upstream.pick(&tried).port(), 3003);
        let all = upstream.addresses().to_vec();
        assert!(all.contains(&upstream.pick(&all)));
    }

    #[test]
    fn retries_are_bounded_by_addresses_and_a_maximum() {
        assert_eq!(three().max_retries(), 3);
        let one = Upstream::new(
            "one".into(),
            vec!["127.0.0.1:3001".parse().unwrap()],
            UpstreamTimeouts::default(),
        );
        assert_eq!(one.max_retries(), 1);
    }

    #[test]
    fn peers_carry_the_timeouts() {
        let timeouts = UpstreamTimeouts {
            read: Duration::from_millis(250),
            ..UpstreamTimeouts::default()
        };
        let upstream = Upstream::new(
            "legacy".into(),
            vec!["127.0.0.1:3001".parse().unwrap()],
            timeouts,
        );
        let peer = upstream.next_peer(&[]);
        assert_eq!(peer.options.read_timeout, Some(Duration::from_millis(250)));
        assert_eq!(
            peer.options.connection_timeout,
            Some(Duration::from_secs(2))
        );
    }
}
