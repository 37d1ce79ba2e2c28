//! The one place a request's outcome is recorded: who served it, with what status, in
//! how long. Today that is the access log line (and at most one error line); metrics
//! and the cut-over dashboard read the same [`Outcome`].

use std::time::Duration;

use pingora::proxy::Session;
use pingora::Error;

use super::ctx::RequestCtx;
use crate::admin::metrics::{method_label, status_class, METRICS};

/// Everything worth knowing about a finished request.
pub struct Outcome<'a> {
    pub request_id: &'a str,
    pub client: String,
    pub method: &'a str,
    pub path: &'a str,
    pub route: &'a str,
    pub served_by: &'static str,
    /// `0` when no response could be sent.
    pub status: u16,
    pub bytes: usize,
    pub duration: Duration,
    pub upstream: String,
    pub error_code: Option<&'static str>,
}

/// Records the outcome of the request in `session`.
pub fn record(session: &Session, ctx: &RequestCtx, error: Option<&Error>) {
    let request = session.req_header();
    let status = session
        .response_written()
        .map(|r| r.status.as_u16())
        .or(ctx.status)
        .unwrap_or(0);
    let outcome = Outcome {
        request_id: &ctx.request_id,
        client: session
            .client_addr()
            .map_or_else(|| "-".to_owned(), |a| a.to_string()),
        method: request.method.as_str(),
        path: request.uri.path_and_query().map_or("/", |pq| pq.as_str()),
        route: ctx.route.as_deref().unwrap_or("-"),
        served_by: ctx.served_by.as_str(),
        status,
        bytes: session.body_bytes_sent(),
        duration: ctx.started.elapsed(),
        upstream: ctx
            .upstream_address
            .map_or_else(|| "-".to_owned(), |a| a.to_string()),
        error_code: ctx.error_code,
    };
    access_line(&outcome);
    error_line(&outcome, ctx.fault.as_deref(), error);
    count(&outcome);
}

fn count(o: &Outcome<'_>) {
    let labels = [
        o.route,
        method_label(o.method),
        status_class(o.status),
        o.served_by,
    ];
    METRICS.requests.with_label_values(&labels).inc();
    METRICS
        .duration
        .with_label_values(&[o.route])
        .observe(o.duration.as_secs_f64());
}

fn access_line(o: &Outcome<'_>) {
    log::info!(
        target: "switchyard::access",
        "request_id={} client={} method={} path={:?} route={} served_by={} status={} bytes={} duration_ms={:.3} upstream={} error={}",
        o.request_id,
        o.client,
        o.method,
        o.path,
        o.route,
        o.served_by,
        o.status,
        o.bytes,
        o.duration.as_secs_f64() * 1000.0,
        o.upstream,
        o.error_code.unwrap_or("-"),
    );
}

/// One error line for a request the edge could not serve; a client's own mistakes and
/// clients that went away are not errors of ours.
fn error_line(o: &Outcome<'_>, fault: Option<&str>, error: Option<&Error>) {
    let served_badly = o.status >= 500;
    let cause = match (fault, error) {
        (Some(fault), _) => fault.to_owned(),
        (None, Some(error)) if served_badly => error.to_string(),
        _ => return,
    };
    log::error!(
        target: "switchyard::error",
        "request_id={} route={} status={} upstream={} cause={cause:?}",
        o.request_id,
        o.route,
        o.status,
        o.upstream,
    );
}
