//! The HTTP/1.1 client all virtual fans share, and one timed exchange with it.
//!
//! One pooled keep-alive client stands in for thousands of browsers: a fan's request
//! takes an idle connection or opens a new one, so open connections follow the
//! requests in flight, as they would with real fans.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::time::{timeout, Instant};

/// The body type of every request the load generator sends.
pub type Body = Full<Bytes>;

/// How long an idle pooled connection is kept. Longer than the gaps in a fan's
/// visit, so a fan keeps reusing its connection as a browser would.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// A whole response: status, headers and the collected body.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why an exchange produced no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No whole response within the time allowed.
    TimedOut,
    /// The connection failed; the text says how.
    Transport(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::TimedOut => f.write_str("timeout"),
            Failure::Transport(reason) => write!(f, "transport: {reason}"),
        }
    }
}

/// The result of one exchange and how long it took, body included.
pub struct Attempt {
    pub latency: Duration,
    pub result: Result<Reply, Failure>,
}

/// The shared client.
#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Body>,
}

impl Http {
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        // Small requests and answers: waiting for Nagle would only add latency.
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .build(connector);
        Http { client }
    }

    /// Sends `request` and reads the whole response within `limit`.
    pub async fn send(&self, request: Request<Body>, limit: Duration) -> Attempt {
        let sent = Instant::now();
        let result = match timeout(limit, self.exchange(request)).await {
            Ok(result) => result,
            Err(_) => Err(Failure::TimedOut),
        };
        Attempt {
            latency: sent.elapsed(),
            result,
        }
    }

    async fn exchange(&self, request: Request<Body>) -> Result<Reply, Failure> {
        let response = self.client.request(request).await.map_err(transport)?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(transport)?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// The error and its causes on one line: the outer error alone ("client error
/// (SendRequest)") rarely says what went wrong.
fn transport(error: impl std::error::Error) -> Failure {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    Failure::Transport(text)
}
