//! The contract between the edge and a native handler.

use async_trait::async_trait;
use http::{Method, Response};

use crate::{Body, HandlerError, NativeRequest};

/// What a handler answers: a complete response, or an error the edge renders through
/// the one status table in [`HandlerError::problem`].
pub type HandlerResult = Result<Response<Body>, HandlerError>;

/// A native handler, built once per route when the route table loads and shared by
/// every request on that route.
///
/// The edge calls [`Handler::handle`] only for the methods the route accepts, after it
/// has read the whole request body within [`Handler::body_limit`].
#[async_trait]
pub trait Handler: Send + Sync {
    /// Answers one request.
    async fn handle(&self, request: NativeRequest) -> HandlerResult;

    /// Largest request body, in bytes, this handler accepts. Zero means the handler
    /// reads no body, and the edge refuses one that is sent.
    fn body_limit(&self) -> usize {
        0
    }

    /// Methods the handler answers; a route without `methods` takes exactly these.
    fn methods(&self) -> &'static [Method];

    /// Values worth watching, read when metrics are scraped (a queue's depth, say).
    async fn gauges(&self) -> Vec<Gauge> {
        Vec::new()
    }
}

/// One value a handler reports at scrape time.
#[derive(Debug, Clone, PartialEq)]
pub struct Gauge {
    /// Metric-style name, e.g. `booking_queue_depth`.
    pub name: &'static str,
    /// What it is about, e.g. the queue's name.
    pub subject: String,
    pub value: f64,
}
