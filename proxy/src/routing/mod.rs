//! Routes and the table that picks one for each request.
//!
//! The table is built once per load of `routes.toml` and never changes afterwards;
//! a reload builds a new table. Matching allocates nothing for routes without
//! parameters.

mod host;
mod pattern;
mod table;

pub use host::HostPattern;
pub use pattern::{PathPattern, PatternKind, Segment};
pub use table::RouteTable;

use std::sync::Arc;

use http::Method;
use switchyard_handlers::Handler;

use crate::cache::MicroCache;
use crate::limits::RateLimit;
use crate::upstream::Upstream;

/// Who answers a route.
#[derive(Clone)]
pub enum Target {
    /// A native handler, by its registered name.
    Native {
        handler: String,
        instance: Arc<dyn Handler>,
    },
    /// Passed through to an upstream.
    Upstream(Arc<Upstream>),
}

/// One `[[routes]]` entry, ready to serve.
#[derive(Clone)]
pub struct Route {
    /// Name used in logs and metrics.
    pub name: String,
    pub pattern: PathPattern,
    /// `None` takes every method.
    pub methods: Option<Vec<Method>>,
    /// `None` takes every host.
    pub host: Option<HostPattern>,
    pub target: Target,
    /// Position in the file, the last tie-breaker of precedence.
    pub position: usize,
    /// Largest request body, in bytes; `None` leaves it to the handler.
    pub max_body: Option<u64>,
    /// Requests allowed per client address.
    pub rate_limit: Option<Arc<RateLimit>>,
    /// Timeouts that override the upstream's for this route.
    pub timeouts: RouteTimeouts,
    /// The micro-cache of a native route's `GET` answers.
    pub cache: Option<Arc<MicroCache>>,
}

/// A pass-through route's own timeouts; `None` keeps the upstream's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteTimeouts {
    pub connect: Option<std::time::Duration>,
    pub read: Option<std::time::Duration>,
    pub write: Option<std::time::Duration>,
    /// Longest the whole exchange with the upstream may take, from the request's
    /// arrival to the response's last byte.
    pub total: Option<std::time::Duration>,
}

impl RouteTimeouts {
    /// Applies the overrides to a peer about to be connected, `elapsed` into the
    /// request: no single wait may run past what is left of the total.
    pub fn apply(
        &self,
        peer: &mut pingora::upstreams::peer::HttpPeer,
        elapsed: std::time::Duration,
    ) {
        let options = &mut peer.options;
        options.connection_timeout = self.connect.or(options.connection_timeout);
        options.read_timeout = self.read.or(options.read_timeout);
        options.write_timeout = self.write.or(options.write_timeout);
        if let Some(total) = self.total {
            // Never zero: Pingora reads a zero timeout as "wait forever" nowhere, but a
            // millisecond keeps the arithmetic honest.
            let left = total
                .saturating_sub(elapsed)
                .max(std::time::Duration::from_millis(1));
            let cap = |t: Option<std::time::Duration>| Some(t.map_or(left, |t| t.min(left)));
            options.connection_timeout = cap(options.connection_timeout);
            options.read_timeout = cap(options.read_timeout);
            options.write_timeout = cap(options.write_timeout);
        }
    }

    /// Whether the total time is spent.
    pub fn expired(&self, elapsed: std::time::Duration) -> bool {
        self.total.is_some_and(|total| elapsed > total)
    }
}

impl Route {
    /// Whether this route takes a request with `method` and `host`.
    pub fn accepts(&self, method: &Method, host: Option<&str>) -> bool {
        let method_ok = self.methods.as_ref().is_none_or(|m| m.contains(method));
        let host_ok = match (&self.host, host) {
            (None, _) => true,
            (Some(pattern), Some(host)) => pattern.matches(host),
            (Some(_), None) => false,
        };
        method_ok && host_ok
    }
}
