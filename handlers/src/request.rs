//! The request a native handler sees: already routed, with its path parameters
//! extracted and its body read.

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};

/// Values of a route's `{name}` path parameters, in pattern order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathParams(Vec<(String, String)>);

impl PathParams {
    /// Adds the value of one parameter.
    pub fn push(&mut self, name: &str, value: &str) {
        self.0.push((name.to_owned(), value.to_owned()));
    }

    /// The raw (still percent-encoded) value of parameter `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// One request routed to a native handler.
#[derive(Debug, Clone)]
pub struct NativeRequest {
    pub method: Method,
    /// Path and query as the client sent them.
    pub uri: Uri,
    pub headers: HeaderMap,
    /// Parameters captured by the route's path pattern.
    pub params: PathParams,
    /// The whole body, already checked against the handler's limit.
    pub body: Bytes,
}

impl NativeRequest {
    /// A request with no body and no parameters, for `method` and `uri`.
    pub fn new(method: Method, uri: Uri) -> Self {
        NativeRequest {
            method,
            uri,
            headers: HeaderMap::new(),
            params: PathParams::default(),
            body: Bytes::new(),
        }
    }

    /// The first value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.uri.query()?;
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    /// The value of a header as text, when it is present and readable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_decoded_and_first_wins() {
        let uri: Uri = "/api/events?limit=5&after=a%20b&limit=9".parse().unwrap();
        let request = NativeRequest::new(Method::GET, uri);
        assert_eq!(request.query_param("limit").as_deref(), Some("5"));
        assert_eq!(request.query_param("after").as_deref(), Some("a b"));
        assert_eq!(request.query_param("missing"), None);
    }

    #[test]
    fn path_params_are_found_by_name() {
        let mut params = PathParams::default();
        params.push("id", "42");
        assert_eq!(params.get("id"), Some("42"));
        assert_eq!(params.get("other"), None);
    }
}
