//! The edge: Pingora's `ProxyHttp` phases, each a short step that hands the work to a
//! module named for it.
//!
//! - `request_filter`: pick the route; a native route is answered here ([`native`]).
//! - `upstream_peer`: the next healthy address of the route's upstream; on a retry,
//!   one not tried yet.
//! - `fail_to_connect` / `error_while_proxy`: whether a failed attempt is retried
//!   ([`retry`]).
//! - `upstream_request_filter` / `response_filter`: forwarding headers ([`forward`]).
//! - `fail_to_proxy`: the status table for failed pass-through ([`errors`]).
//! - `logging`: the request's outcome ([`outcome`]).

mod client;
mod ctx;
mod errors;
mod forward;
mod limits;
mod native;
mod outcome;
mod request_id;
mod respond;
mod retry;

pub use ctx::{RequestCtx, ServedBy};
pub use outcome::JSON_ACCESS_TARGET;

use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::HttpPeer;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::{Error, ErrorSource, ErrorType, Result};
use switchyard_handlers::{problem_response, Problem};

use crate::admin::metrics::METRICS;
use crate::config::{Config, DEFAULT_PASS_THROUGH_MAX_BODY};
use crate::routing::Target;

/// The edge service. Holds the active configuration; swapping it affects new requests
/// only.
pub struct Edge {
    config: Arc<ArcSwap<Config>>,
}

impl Edge {
    pub fn new(config: Arc<ArcSwap<Config>>) -> Self {
        Edge { config }
    }
}

#[async_trait]
impl ProxyHttp for Edge {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new(self.config.load_full())
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        ctx.request_id = request_id::pick(session.req_header());
        ctx.client_ip = client::address(session, &ctx.config.trusted_proxies);
        let config = ctx.config.clone();
        let request = session.req_header();
        let host = request_host(request);
        let Some(found) = config.table.find(&request.method, host, request.uri.path()) else {
            ctx.upstream = Some(config.default_upstream.clone());
            ctx.max_body = Some(DEFAULT_PASS_THROUGH_MAX_BODY);
            return self.refuse_over_limit(session, ctx).await;
        };

        ctx.route = Some(found.route.name.clone());
        ctx.max_body = found.route.max_body;
        ctx.timeouts = found.route.timeouts;
        if let Some(problem) = limits::refuse(found.route, session, ctx) {
            self.answer_problem(session, ctx, problem).await?;
            return Ok(true);
        }
        match &found.route.target {
            Target::Upstream(upstream) => {
                ctx.upstream = Some(upstream.clone());
                Ok(false)
            }
            Target::Native { instance, .. } => {
                let cache = found.route.cache.clone();
                native::serve(session, ctx, instance.clone(), found.params, cache).await?;
                Ok(true)
            }
        }
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        // Only pass-through bodies arrive here; a native handler reads its own.
        let (Some(chunk), Some(limit)) = (body.as_ref(), ctx.max_body) else {
            return Ok(());
        };
        ctx.body_bytes += chunk.len() as u64;
        if ctx.body_bytes > limit {
            return Error::e_explain(
                ErrorType::HTTPStatus(413),
                "request body over the route's max_body",
            );
        }
        Ok(())
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        let upstream = ctx
            .upstream
            .as_ref()
            .unwrap_or(&ctx.config.default_upstream);
        let mut peer = upstream.next_peer(&ctx.tried);
        ctx.timeouts.apply(&mut peer, ctx.started.elapsed());
        ctx.upstream_address = peer._address.as_inet().copied();
        ctx.tried.extend(ctx.upstream_address);
        Ok(peer)
    }

    fn fail_to_connect(
        &self,
        session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut RequestCtx,
        mut error: Box<Error>,
    ) -> Box<Error> {
        retry::after_connect_failure(session, ctx, &mut error);
        error
    }

    fn error_while_proxy(
        &self,
        peer: &HttpPeer,
        session: &mut Session,
        error: Box<Error>,
        ctx: &mut RequestCtx,
        client_reused: bool,
    ) -> Box<Error> {
        let mut error = error.more_context(format!("Peer: {peer}"));
        retry::after_send_failure(session, ctx, &mut error, client_reused);
        error
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream_request: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        forward::upstream_request(session, upstream_request, ctx)
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        respond::close_if_shutting_down(session);
        forward::clean_response(upstream_response);
        respond::stamp(upstream_response, ctx, ServedBy::Upstream)
    }

    fn upstream_response_body_filter(
        &self,
        _session: &mut Session,
        _body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<std::time::Duration>> {
        if ctx.timeouts.expired(ctx.started.elapsed()) {
            // An upstream read timeout, so the status table answers 504.
            return Err(Error::new_up(ErrorType::ReadTimedout));
        }
        Ok(None)
    }

    fn suppress_error_log(&self, _session: &Session, _ctx: &RequestCtx, _error: &Error) -> bool {
        // `logging` writes the one error line a failed request gets.
        true
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        error: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        let no_answer = FailToProxy {
            error_code: 0,
            can_reuse_downstream: false,
        };
        let Some(problem) = errors::problem_for(error.esource(), error.etype()) else {
            return no_answer;
        };
        ctx.error_code = Some(problem.code);
        if let (ErrorSource::Upstream, Some(upstream)) = (error.esource(), &ctx.upstream) {
            METRICS
                .upstream_errors
                .with_label_values(&[upstream.name.as_str(), problem.code])
                .inc();
        }
        if session.response_written().is_some() {
            // Part of the upstream's response is already out; all we can do is close.
            return FailToProxy {
                error_code: problem.status.as_u16(),
                ..no_answer
            };
        }

        session.set_keepalive(None);
        let written = respond::write(session, ctx, problem_response(&problem)).await;
        if let Err(e) = written {
            log::debug!("could not send the error response: {e}");
        }
        FailToProxy {
            error_code: problem.status.as_u16(),
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, error: Option<&Error>, ctx: &mut RequestCtx) {
        outcome::record(session, ctx, error);
    }
}

impl Edge {
    /// Refuses a pass-through request whose declared body is over the default limit.
    async fn refuse_over_limit(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let declared = session
            .req_header()
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        match (declared, ctx.max_body) {
            (Some(length), Some(limit)) if length > limit => {
                self.answer_problem(session, ctx, limits::too_large(limit))
                    .await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Answers with `problem` instead of serving the request; the unread body, if any,
    /// makes the connection unusable afterwards.
    async fn answer_problem(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        problem: Problem,
    ) -> Result<()> {
        ctx.error_code = Some(problem.code);
        session.set_keepalive(None);
        respond::write(session, ctx, problem_response(&problem)).await
    }
}

/// The host a request is for: `Host`, or the authority of an absolute-form target.
fn request_host(request: &RequestHeader) -> Option<&str> {
    request
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri.host())
}
