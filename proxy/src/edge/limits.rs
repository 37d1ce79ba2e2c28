//! The route's limits, checked before anything else runs: the client's rate, and a
//! declared body size.

use http::StatusCode;
use pingora::proxy::Session;
use switchyard_handlers::Problem;

use super::ctx::RequestCtx;
use crate::routing::Route;

/// A problem to answer instead of serving the request, if the route's limits say so.
pub fn refuse(route: &Route, session: &Session, ctx: &RequestCtx) -> Option<Problem> {
    if let (Some(limit), Some(client)) = (&route.rate_limit, ctx.client_ip) {
        if let Err(wait) = limit.check(client) {
            // Rounded up: a client that waits exactly this long finds a token again.
            let seconds = wait.as_millis().div_ceil(1000).max(1) as u64;
            return Some(Problem {
                retry_after: Some(std::time::Duration::from_secs(seconds)),
                ..Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!("too many requests from this address; retry in {seconds} s"),
                )
            });
        }
    }
    let declared = declared_length(session)?;
    let limit = ctx.max_body?;
    (declared > limit).then(|| too_large(limit))
}

/// The `413` problem for a body over `limit` bytes.
pub fn too_large(limit: u64) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the body must be at most {limit} bytes"),
    )
}

fn declared_length(session: &Session) -> Option<u64> {
    session
        .req_header()
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}
