//! Named upstreams: where passed-through requests go, and how long to wait for them.
//!
//! Each request takes the next address in turn. Connections to every address are
//! pooled by Pingora and reused across requests; they always speak HTTP/1.1, because
//! an HTTP/2 upstream connection in current Pingora can replay a non-idempotent
//! request after a connection error.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pingora::upstreams::peer::HttpPeer;

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

/// One named upstream.
#[derive(Debug)]
pub struct Upstream {
    pub name: String,
    addresses: Vec<SocketAddr>,
    timeouts: UpstreamTimeouts,
    next: AtomicUsize,
}

impl Upstream {
    /// An upstream over `addresses`, which must not be empty.
    pub fn new(name: String, addresses: Vec<SocketAddr>, timeouts: UpstreamTimeouts) -> Self {
        assert!(!addresses.is_empty(), "an upstream needs an address");
        Upstream {
            name,
            addresses,
            timeouts,
            next: AtomicUsize::new(0),
        }
    }

    pub fn addresses(&self) -> &[SocketAddr] {
        &self.addresses
    }

    /// The peer for the next request, taking addresses in turn.
    pub fn next_peer(&self) -> Box<HttpPeer> {
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        let address = self.addresses[turn % self.addresses.len()];

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

    #[test]
    fn addresses_are_taken_in_turn() {
        let addresses: Vec<SocketAddr> = vec![
            "127.0.0.1:3001".parse().unwrap(),
            "127.0.0.1:3002".parse().unwrap(),
        ];
        let upstream = Upstream::new(
            "legacy".into(),
            addresses.clone(),
            UpstreamTimeouts::default(),
        );
        let picked: Vec<String> = (0..4).map(|_| upstream.next_peer().to_string()).collect();
        assert!(
            picked[0].contains("3001") && picked[2].contains("3001"),
            "{picked:?}"
        );
        assert!(
            picked[1].contains("3002") && picked[3].contains("3002"),
            "{picked:?}"
        );
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
        let peer = upstream.next_peer();
        assert_eq!(peer.options.read_timeout, Some(Duration::from_millis(250)));
        assert_eq!(
            peer.options.connection_timeout,
            Some(Duration::from_secs(2))
        );
    }
}
