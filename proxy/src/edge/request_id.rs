//! `X-Request-Id`: keep the client's when it is sane, so one id follows a request
//! through every tier; otherwise make one.

use pingora::http::RequestHeader;
use uuid::Uuid;

/// Longest client-supplied id we keep.
const MAX_LEN: usize = 128;

/// The id for this request.
pub fn pick(request: &RequestHeader) -> String {
    let offered = request
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_sane(id));
    match offered {
        Some(id) => id.to_owned(),
        None => Uuid::new_v4().hyphenated().to_string(),
    }
}

/// Short, and only characters that are safe in logs and headers.
fn is_sane(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'=')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_header(value: Option<&str>) -> RequestHeader {
        let mut request = RequestHeader::build("GET", b"/", None).unwrap();
        if let Some(value) = value {
            request.insert_header("X-Request-Id", value).unwrap();
        }
        request
    }

    #[test]
    fn sane_ids_are_kept_and_others_replaced() {
        assert_eq!(pick(&with_header(Some("abc-123"))), "abc-123");
        for bad in [None, Some(""), Some("has space"), Some("quote\"d")] {
            let id = pick(&with_header(bad));
            assert!(Uuid::parse_str(&id).is_ok(), "{bad:?} gave {id}");
        }
        let long = "a".repeat(MAX_LEN + 1);
        assert_ne!(pick(&with_header(Some(&long))), long);
    }
}
