//! The edge's status table: what a client gets when passing a request through fails.
//!
//! Native handlers map their own errors in `switchyard_handlers::HandlerError::problem`;
//! this table covers what Pingora reports: the upstream refusing, timing out or
//! breaking the connection, and requests too malformed to forward. Rows are tried in
//! order; the first that fits decides.

use http::StatusCode;
use pingora::{ErrorSource, ErrorType};
use switchyard_handlers::Problem;

/// What to answer for a failed request; `None` when the client is gone and nothing
/// can be answered.
pub fn problem_for(source: &ErrorSource, kind: &ErrorType) -> Option<Problem> {
    use ErrorType as E;
    let problem = match (source, kind) {
        (_, E::HTTPStatus(413)) => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the body is larger than this route takes",
        ),
        (_, E::HTTPStatus(code)) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Problem::new(
                status,
                "error",
                status.canonical_reason().unwrap_or("error"),
            )
        }
        (ErrorSource::Downstream, E::ReadError | E::WriteError | E::ConnectionClosed) => {
            return None
        }
        (ErrorSource::Downstream, E::ReadTimedout) => Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body did not arrive in time",
        ),
        (ErrorSource::Downstream, _) => Problem::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request could not be read as HTTP",
        ),
        (ErrorSource::Upstream, E::ConnectTimedout | E::ReadTimedout | E::WriteTimedout) => {
            Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                "the upstream app did not answer in time",
            )
        }
        (ErrorSource::Upstream, _) => Problem::new(
            StatusCode::BAD_GATEWAY,
            "upstream_unavailable",
            "the upstream app could not be reached or broke the connection",
        ),
        (ErrorSource::Internal | ErrorSource::Unset, _) => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the request could not be completed",
        ),
    };
    Some(problem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table() {
        use ErrorSource::*;
        use ErrorType as E;
        let cases: &[(ErrorSource, ErrorType, Option<u16>)] = &[
            (Upstream, E::ConnectRefused, Some(502)),
            (Upstream, E::ConnectNoRoute, Some(502)),
            (Upstream, E::ConnectionClosed, Some(502)),
            (Upstream, E::ReadError, Some(502)),
            (Upstream, E::ConnectTimedout, Some(504)),
            (Upstream, E::ReadTimedout, Some(504)),
            (Downstream, E::ReadError, None),
            (Downstream, E::ConnectionClosed, None),
            (Downstream, E::InvalidHTTPHeader, Some(400)),
            (Downstream, E::ReadTimedout, Some(408)),
            (Internal, E::InternalError, Some(500)),
            (Unset, E::HTTPStatus(413), Some(413)),
        ];
        for (source, kind, expected) in cases {
            let got = problem_for(source, kind).map(|p| p.status.as_u16());
            assert_eq!(got, *expected, "{source:?} {kind:?}");
        }
    }
}
