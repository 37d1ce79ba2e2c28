//! The one place a request's outcome is recorded: who served it, with what status, in
//! how long. Today that is the access log line (and at most one error line); metrics
//! and the cut-over dashboard read the same [`Outcome`].

use std::time::{Duration, SystemTime};

use pingora::proxy::Session;
use pingora::Error;
use serde::Serialize;

use super::ctx::RequestCtx;
use crate::admin::metrics::{method_label, status_class, METRICS};
use crate::config::AccessLogFormat;

/// Target of access lines in JSON, which the logger prints bare. It lies under
/// `switchyard::access`, so one `RUST_LOG` directive covers both formats.
pub const JSON_ACCESS_TARGET: &str = "switchyard::access::json";

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
        client: client_label(session, ctx),
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
    match ctx.config.access_log {
        AccessLogFormat::Plain => access_line(&outcome),
        AccessLogFormat::Json => json_access_line(&outcome),
    }
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

/// The client's address as vouched for (see `edge::client`), else the peer's.
fn client_label(session: &Session, ctx: &RequestCtx) -> String {
    match (ctx.client_ip, session.client_addr()) {
        (Some(ip), _) => ip.to_string(),
        (None, Some(peer)) => peer.to_string(),
        (None, None) => "-".to_owned(),
    }
}

/// The fields of a JSON access line, in the order they are written.
#[derive(Serialize)]
struct JsonLine<'a> {
    time: String,
    request_id: &'a str,
    client: &'a str,
    method: &'a str,
    path: &'a str,
    route: &'a str,
    served_by: &'a str,
    status: u16,
    bytes: usize,
    duration_ms: f64,
    upstream: &'a str,
    error: Option<&'a str>,
}

/// One JSON object per line, for log pipelines; the logger prints it bare.
fn json_access_line(o: &Outcome<'_>) {
    let line = JsonLine {
        time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        request_id: o.request_id,
        client: &o.client,
        method: o.method,
        path: o.path,
        route: o.route,
        served_by: o.served_by,
        status: o.status,
        bytes: o.bytes,
        duration_ms: (o.duration.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        upstream: &o.upstream,
        error: o.error_code,
    };
    match serde_json::to_string(&line) {
        Ok(json) => log::info!(target: JSON_ACCESS_TARGET, "{json}"),
        Err(e) => log::error!(target: "switchyard::error", "access line not encodable: {e}"),
    }
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
