//! When a failed attempt at the upstream may be made again, on another address.
//!
//! The rule: a request is retried only when the upstream cannot have acted on it.
//!
//! - The connection failed (refused, timed out): nothing was sent, so any request,
//!   a `POST` included, is retried.
//! - The connection failed after the request was (perhaps partly) sent: retried only
//!   when the method is idempotent and the connection was a reused pooled one that the
//!   upstream had closed (Pingora's own rule). A `POST` is never sent twice.
//!
//! Either way a request makes at most `Upstream::max_retries` extra attempts, and
//! `Upstream::next_peer` sends each to an address it has not tried yet.

use pingora::proxy::Session;
use pingora::Error;

use super::RequestCtx;

/// Decides whether a connect failure is retried.
pub fn after_connect_failure(session: &Session, ctx: &RequestCtx, error: &mut Error) {
    // A body already consumed and not fully buffered could not be sent again; in
    // practice the body is only read once a connection is up.
    let replayable = !session.as_ref().retry_buffer_truncated();
    error.set_retry(replayable && attempts_left(ctx));
}

/// Decides whether a failure on an established connection is retried.
pub fn after_send_failure(session: &Session, ctx: &RequestCtx, error: &mut Error, reused: bool) {
    let idempotent = session.req_header().method.is_idempotent();
    if !idempotent || session.as_ref().retry_buffer_truncated() {
        error.set_retry(false);
        return;
    }
    // A reused connection may have been closed by the upstream while idle, before it
    // saw this request; a fresh one failing means the upstream may have acted on it.
    error.retry.decide_reuse(reused);
    if !attempts_left(ctx) {
        error.set_retry(false);
    }
}

/// Whether the request may make one more attempt.
fn attempts_left(ctx: &RequestCtx) -> bool {
    let upstream = ctx
        .upstream
        .as_ref()
        .unwrap_or(&ctx.config.default_upstream);
    let retries_made = ctx.tried.len().saturating_sub(1);
    retries_made < upstream.max_retries()
}
