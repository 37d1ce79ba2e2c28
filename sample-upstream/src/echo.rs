//! The `/echo` endpoint: answers with a JSON picture of the request it got.
//!
//! Tests use it to see exactly what a proxy forwarded, so it keeps every header
//! line, repeats included. hyper hands headers over in a `HeaderMap`, which keeps
//! the order in which names first appeared but lists a repeated name's values
//! together at that name's first position, and lowercases names; that is the
//! order reported here.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::{HeaderMap, Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::routes;

/// Largest body echoed back; a stand-in app has no reason to buffer more.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// Reads the whole body (chunked or with a length; hyper decodes both) and
/// echoes the request.
pub async fn handle(req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
            let error = json!({"error": "body_too_large", "limit": MAX_BODY});
            return routes::json(StatusCode::PAYLOAD_TOO_LARGE, &error);
        }
        Err(err) => {
            let error = json!({"error": "bad_body", "detail": err.to_string()});
            return routes::json(StatusCode::BAD_REQUEST, &error);
        }
    };

    let echoed = echo_json(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query(),
        &parts.headers,
        &body,
    );
    routes::json(StatusCode::OK, &echoed)
}

/// Builds the echo document. Header values and the body are decoded as UTF-8
/// lossily, so odd bytes show up as U+FFFD instead of failing the request.
pub fn echo_json(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Value {
    let headers: Vec<Value> = headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes());
            json!([name.as_str(), value])
        })
        .collect();

    json!({
        "method": method,
        "path": path,
        "query": query,
        "headers": headers,
        "body": String::from_utf8_lossy(body),
        "body_length": body.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    #[test]
    fn echo_keeps_repeated_headers_and_null_query() {
        let mut headers = HeaderMap::new();
        headers.append("x-a", HeaderValue::from_static("1"));
        headers.append("x-b", HeaderValue::from_static("2"));
        headers.append("x-a", HeaderValue::from_static("3"));

        let doc = echo_json("POST", "/echo/x", None, &headers, b"hi");
        assert_eq!(doc["method"], "POST");
        assert_eq!(doc["path"], "/echo/x");
        assert!(doc["query"].is_null());
        assert_eq!(
            doc["headers"],
            json!([["x-a", "1"], ["x-a", "3"], ["x-b", "2"]])
        );
        assert_eq!(doc["body"], "hi");
        assert_eq!(doc["body_length"], 2);
    }

    #[test]
    fn echo_decodes_bad_utf8_lossily() {
        let mut headers = HeaderMap::new();
        let odd = HeaderValue::from_bytes(b"caf\xe9").expect("obs-text is a valid header value");
        headers.insert("x-odd", odd);

        let doc = echo_json("GET", "/echo", Some("a=1&b"), &headers, &[0xff, b'a']);
        assert_eq!(doc["query"], "a=1&b");
        assert_eq!(doc["headers"][0][1], "caf\u{fffd}");
        assert_eq!(doc["body"], "\u{fffd}a");
        assert_eq!(doc["body_length"], 2);
    }
}
