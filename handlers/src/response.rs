//! Building JSON responses, for answers and for problems alike.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use serde::Serialize;

use crate::{Body, HandlerError, Problem};

/// A JSON response with `status` and the serialized `body`.
pub fn json_response<T: Serialize>(
    status: StatusCode,
    body: &T,
) -> Result<Response<Body>, HandlerError> {
    let bytes = serde_json::to_vec(body)
        .map_err(|e| HandlerError::Internal(format!("serializing a response: {e}")))?;
    Ok(json_bytes_response(status, Bytes::from(bytes)))
}

/// The response for a problem: `{"error": code, "message": ...}` and, when the client
/// should come back later, `Retry-After` in whole seconds.
pub fn problem_response(problem: &Problem) -> Response<Body> {
    let body = serde_json::json!({ "error": problem.code, "message": problem.message });
    let mut response = json_bytes_response(problem.status, Bytes::from(body.to_string()));
    if let Some(after) = problem.retry_after {
        let seconds = after.as_secs().max(1);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn json_bytes_response(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Body::Full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_responses_are_json_with_retry_after() {
        let problem = HandlerError::StoreUnavailable {
            store: "postgresql",
            detail: "down".into(),
        }
        .problem();
        let response = problem_response(&problem);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let body: serde_json::Value =
            serde_json::from_slice(response.body().as_full().unwrap()).unwrap();
        assert_eq!(body["error"], "unavailable");
        assert!(body["message"].is_string());
    }
}
