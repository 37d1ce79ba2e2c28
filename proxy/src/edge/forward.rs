//! Headers on the way through: what the upstream learns about the client, and what
//! the client must not see of the hop between edge and upstream.
//!
//! Pingora already strips hop-by-hop request headers (and those the client's
//! `Connection` header names) before the upstream sees the request; the response side
//! is ours to clean.

use http::header;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::proxy::Session;
use pingora::Result;

use std::net::IpAddr;

use super::client;
use super::ctx::RequestCtx;

/// Response headers that describe the edge-upstream connection, not the response.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// Tells the upstream who the client is and which request this is.
///
/// An incoming `X-Forwarded-For` is not believed: the edge is the first hop every
/// public request crosses, so the only address it can vouch for is the peer's.
pub fn upstream_request(
    session: &Session,
    request: &mut RequestHeader,
    ctx: &RequestCtx,
) -> Result<()> {
    request.remove_header("X-Forwarded-For");
    if let Some(peer) = session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.ip())
    {
        request.insert_header("X-Forwarded-For", forwarded_for(session, peer, ctx))?;
    }
    let over_tls = session.digest().is_some_and(|d| d.ssl_digest.is_some());
    request.insert_header("X-Forwarded-Proto", if over_tls { "https" } else { "http" })?;
    match session.req_header().headers.get(header::HOST).cloned() {
        Some(host) => request.insert_header("X-Forwarded-Host", host)?,
        None => {
            request.remove_header("X-Forwarded-Host");
        }
    }
    request.insert_header("X-Request-Id", ctx.request_id.as_str())?;
    Ok(())
}

/// The `X-Forwarded-For` to send: the trusted chain so far plus the peer, or the peer
/// alone when it is not a trusted proxy.
fn forwarded_for(session: &Session, peer: IpAddr, ctx: &RequestCtx) -> String {
    if !client::is_trusted(peer, &ctx.config.trusted_proxies) {
        return peer.to_string();
    }
    let earlier: Vec<&str> = session
        .req_header()
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let mut chain = earlier.join(", ");
    if !chain.is_empty() {
        chain.push_str(", ");
    }
    chain.push_str(&peer.to_string());
    chain
}

/// Drops hop-by-hop headers from an upstream response, except on a protocol switch,
/// where `Connection` and `Upgrade` are the point.
pub fn clean_response(response: &mut ResponseHeader) {
    if response.status == http::StatusCode::SWITCHING_PROTOCOLS {
        return;
    }
    let nominated: Vec<String> = response
        .headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty() && name != "close" && name != "keep-alive")
        .collect();
    for name in nominated.iter().map(String::as_str).chain(HOP_BY_HOP) {
        // Framing stays Pingora's business.
        if name != "transfer-encoding" && name != "content-length" {
            response.remove_header(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_response_headers_are_dropped() {
        let mut response = ResponseHeader::build(200, None).unwrap();
        response
            .append_header("Connection", "keep-alive, X-Internal")
            .unwrap();
        response.append_header("Keep-Alive", "timeout=5").unwrap();
        response.append_header("X-Internal", "secret").unwrap();
        response.append_header("Set-Cookie", "a=1").unwrap();
        response.append_header("Set-Cookie", "b=2").unwrap();
        response
            .append_header("Transfer-Encoding", "chunked")
            .unwrap();
        clean_response(&mut response);

        assert!(response.headers.get("connection").is_none());
        assert!(response.headers.get("keep-alive").is_none());
        assert!(response.headers.get("x-internal").is_none());
        assert_eq!(response.headers.get_all("set-cookie").iter().count(), 2);
        assert!(response.headers.get("transfer-encoding").is_some());
    }

    #[test]
    fn protocol_switches_keep_their_headers() {
        let mut response = ResponseHeader::build(101, None).unwrap();
        response.append_header("Connection", "Upgrade").unwrap();
        response.append_header("Upgrade", "websocket").unwrap();
        clean_response(&mut response);
        assert!(response.headers.get("upgrade").is_some());
    }
}
