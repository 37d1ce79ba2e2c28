//! Who the client is: the peer's address, or, behind trusted proxies, the address they
//! vouch for in `X-Forwarded-For`.

use std::net::IpAddr;

use ipnet::IpNet;
use pingora::proxy::Session;

/// The client's address, for logs and rate limits.
///
/// When the peer is a trusted proxy, `X-Forwarded-For` is read from the right: each
/// trusted hop vouches for the one before it, so the first address that is not a
/// trusted proxy is the client. From any other peer the header is not believed.
pub fn address(session: &Session, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = session.client_addr()?.as_inet()?.ip();
    if !is_trusted(peer, trusted) {
        return Some(peer);
    }
    let forwarded = forwarded_chain(session);
    let client = forwarded.iter().rev().find(|ip| !is_trusted(**ip, trusted));
    Some(client.or(forwarded.first()).copied().unwrap_or(peer))
}

/// Whether `ip` is one of the trusted proxies.
pub fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|network| network.contains(&ip))
}

/// The addresses of every `X-Forwarded-For` line, in order; unreadable entries are
/// skipped.
fn forwarded_chain(session: &Session) -> Vec<IpAddr> {
    session
        .req_header()
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_is_by_network() {
        let trusted: Vec<IpNet> = vec![
            "10.0.0.0/8".parse().unwrap(),
            "127.0.0.1/32".parse().unwrap(),
        ];
        assert!(is_trusted("10.1.2.3".parse().unwrap(), &trusted));
        assert!(is_trusted("127.0.0.1".parse().unwrap(), &trusted));
        assert!(!is_trusted("127.0.0.2".parse().unwrap(), &trusted));
        assert!(!is_trusted("192.0.2.1".parse().unwrap(), &[]));
    }
}
