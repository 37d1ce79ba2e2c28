//! What the edge knows about one request while it is being served.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use crate::admin::metrics::METRICS;
use crate::config::Config;
use crate::routing::RouteTimeouts;
use crate::upstream::Upstream;

/// Who produced the response a client got, as `X-Served-By` and the access log say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServedBy {
    /// The edge itself: a native handler, or an error the edge answered.
    Native,
    /// The upstream's own response, passed through.
    Upstream,
}

impl ServedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            ServedBy::Native => "native",
            ServedBy::Upstream => "upstream",
        }
    }
}

/// Per-request state, from the first filter to the access log.
pub struct RequestCtx {
    /// When the edge started on the request.
    pub started: Instant,
    /// The route table the request started on. A reload swaps the table for new
    /// requests; this one finishes on the table it began with.
    pub config: Arc<Config>,
    /// `X-Request-Id`: the client's when it sent a sane one, otherwise a new UUID.
    pub request_id: String,
    /// Name of the matched route; `None` for the default upstream.
    pub route: Option<String>,
    /// Where the request is passed through to, when it is.
    pub upstream: Option<Arc<Upstream>>,
    /// The upstream address actually used (the last one, after retries).
    pub upstream_address: Option<SocketAddr>,
    /// Every upstream address attempted for this request, in order. A retry picks an
    /// address not in it when there is one, and its length bounds the retries.
    pub tried: Vec<SocketAddr>,
    pub served_by: ServedBy,
    /// Status of a response the edge wrote itself.
    pub status: Option<u16>,
    /// Short code of what went wrong, e.g. `upstream_timeout`.
    pub error_code: Option<&'static str>,
    /// A server-side fault to log once, at error level, with the access line.
    pub fault: Option<String>,
    /// The client's address (see `edge::client`).
    pub client_ip: Option<IpAddr>,
    /// The route's body limit, enforced as the body streams through.
    pub max_body: Option<u64>,
    /// Request body bytes seen so far.
    pub body_bytes: u64,
    /// The route's own upstream timeouts.
    pub timeouts: RouteTimeouts,
}

impl RequestCtx {
    pub fn new(config: Arc<Config>) -> Self {
        METRICS.requests_in_flight.inc();
        RequestCtx {
            started: Instant::now(),
            config,
            request_id: String::new(),
            route: None,
            upstream: None,
            upstream_address: None,
            tried: Vec::new(),
            served_by: ServedBy::Native,
            status: None,
            error_code: None,
            fault: None,
            client_ip: None,
            max_body: None,
            body_bytes: 0,
            timeouts: RouteTimeouts::default(),
        }
    }
}

impl Drop for RequestCtx {
    fn drop(&mut self) {
        METRICS.requests_in_flight.dec();
    }
}
