//! Validating a booking request body: `{"event_id", "quantity", "user_ref"}`.
//!
//! Every rejection names the field, so a client can fix its request without reading
//! our code. A body is refused whole: nothing is enqueued for a request with any error.

use serde_json::{Map, Value};

use crate::HandlerError;

/// Most seats one booking may take.
pub const MAX_QUANTITY: i64 = 10;
/// Longest `user_ref`, in characters.
pub const MAX_USER_REF_CHARS: usize = 255;

const FIELDS: [&str; 3] = ["event_id", "quantity", "user_ref"];

/// A request that passed validation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BookingRequest {
    pub event_id: i64,
    pub quantity: i64,
    pub user_ref: String,
}

impl BookingRequest {
    /// The request in one canonical form, so that repeats differing only in JSON
    /// layout or key order count as the same request.
    pub fn fingerprint(&self) -> String {
        serde_json::to_string(self).expect("a validated booking always serializes")
    }
}

/// Checks that the declared content type is JSON (`application/json` or `*/*+json`).
pub fn require_json(content_type: Option<&str>) -> Result<(), HandlerError> {
    let declared = content_type.unwrap_or("");
    let essence = declared
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        Ok(())
    } else {
        Err(HandlerError::UnsupportedMediaType(declared.to_owned()))
    }
}

/// The booking fields, only to catch a field given twice: serde refuses a duplicate
/// field of a struct, where a JSON object would silently keep the last value.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct FieldsOnce {
    event_id: Option<serde::de::IgnoredAny>,
    quantity: Option<serde::de::IgnoredAny>,
    user_ref: Option<serde::de::IgnoredAny>,
}

/// Parses and validates a booking request body.
pub fn parse(body: &[u8]) -> Result<BookingRequest, HandlerError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| HandlerError::MalformedJson(e.to_string()))?;
    if value.is_object() {
        reject_duplicate_fields(body)?;
    }
    let Value::Object(object) = value else {
        return Err(HandlerError::invalid_field("body", "must be a JSON object"));
    };
    if let Some(unknown) = object.keys().find(|key| !FIELDS.contains(&key.as_str())) {
        return Err(HandlerError::invalid_field(
            unknown.clone(),
            "is not a booking field",
        ));
    }

    Ok(BookingRequest {
        event_id: integer(&object, "event_id", 1, i64::MAX)?,
        quantity: integer(&object, "quantity", 1, MAX_QUANTITY)?,
        user_ref: user_ref(&object)?,
    })
}

fn reject_duplicate_fields(body: &[u8]) -> Result<(), HandlerError> {
    let Err(error) = serde_json::from_slice::<FieldsOnce>(body) else {
        return Ok(());
    };
    let message = error.to_string();
    let duplicate = FIELDS
        .iter()
        .find(|field| message.contains(&format!("duplicate field `{field}`")));
    match duplicate {
        Some(field) => Err(HandlerError::invalid_field(
            *field,
            "is given more than once",
        )),
        None => Ok(()),
    }
}

fn integer(
    object: &Map<String, Value>,
    field: &str,
    min: i64,
    max: i64,
) -> Result<i64, HandlerError> {
    let range = if max == i64::MAX {
        format!("must be an integer of at least {min}")
    } else {
        format!("must be an integer from {min} to {max}")
    };
    let value = object
        .get(field)
        .ok_or_else(|| HandlerError::invalid_field(field, "is required"))?;
    match value.as_i64() {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(HandlerError::invalid_field(
            field,
            format!("{range}, got {value}"),
        )),
    }
}

fn user_ref(object: &Map<String, Value>) -> Result<String, HandlerError> {
    let value = object
        .get("user_ref")
        .ok_or_else(|| HandlerError::invalid_field("user_ref", "is required"))?;
    let Some(text) = value.as_str() else {
        return Err(HandlerError::invalid_field("user_ref", "must be a string"));
    };
    let chars = text.chars().count();
    if chars == 0 || chars > MAX_USER_REF_CHARS {
        let message = format!("must be 1 to {MAX_USER_REF_CHARS} characters, got {chars}");
        return Err(HandlerError::invalid_field("user_ref", message));
    }
    // Control characters (a NUL above all) break workers and logs downstream.
    if text.chars().any(char::is_control) {
        return Err(HandlerError::invalid_field(
            "user_ref",
            "must not contain control characters",
        ));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(error: HandlerError) -> String {
        match error {
            HandlerError::InvalidField { field, .. } => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_body_is_accepted() {
        let body = br#"{"event_id": 3, "quantity": 2, "user_ref": "fan-42"}"#;
        let request = parse(body).unwrap();
        assert_eq!(
            request,
            BookingRequest {
                event_id: 3,
                quantity: 2,
                user_ref: "fan-42".into()
            }
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let long = "x".repeat(256);
        let cases = [
            (r#"{"quantity": 1, "user_ref": "u"}"#.to_owned(), "event_id"),
            (
                r#"{"event_id": 0, "quantity": 1, "user_ref": "u"}"#.to_owned(),
                "event_id",
            ),
            (
                r#"{"event_id": "3", "quantity": 1, "user_ref": "u"}"#.to_owned(),
                "event_id",
            ),
            (
                r#"{"event_id": 1.5, "quantity": 1, "user_ref": "u"}"#.to_owned(),
                "event_id",
            ),
            (
                r#"{"event_id": 3, "quantity": 11, "user_ref": "u"}"#.to_owned(),
                "quantity",
            ),
            (
                r#"{"event_id": 3, "quantity": 0, "user_ref": "u"}"#.to_owned(),
                "quantity",
            ),
            (
                r#"{"event_id": 3, "quantity": 1, "user_ref": ""}"#.to_owned(),
                "user_ref",
            ),
            (
                r#"{"event_id": 3, "quantity": 1, "user_ref": 5}"#.to_owned(),
                "user_ref",
            ),
            (
                format!(r#"{{"event_id": 3, "quantity": 1, "user_ref": "{long}"}}"#),
                "user_ref",
            ),
            (
                r#"{"event_id": 3, "quantity": 1, "user_ref": "u", "seat": 9}"#.to_owned(),
                "seat",
            ),
            (r#"[1, 2]"#.to_owned(), "body"),
            (
                r#"{"event_id": 3, "quantity": 1, "user_ref": "nul\u0000x"}"#.to_owned(),
                "user_ref",
            ),
            (
                r#"{"event_id": 3, "quantity": 1, "user_ref": "tab\tx"}"#.to_owned(),
                "user_ref",
            ),
            (
                r#"{"event_id": 3, "event_id": 999, "quantity": 1, "user_ref": "u"}"#.to_owned(),
                "event_id",
            ),
            (
                r#"{"event_id": 3, "quantity": 1, "user_ref": "u", "user_ref": "v"}"#.to_owned(),
                "user_ref",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(
                field_of(parse(body.as_bytes()).unwrap_err()),
                field,
                "{body}"
            );
        }
    }

    #[test]
    fn user_ref_counts_characters_not_bytes() {
        let body = format!(
            r#"{{"event_id": 3, "quantity": 1, "user_ref": "{}"}}"#,
            "é".repeat(255)
        );
        assert!(parse(body.as_bytes()).is_ok());
    }

    #[test]
    fn fingerprints_ignore_layout_but_not_values() {
        let a = parse(br#"{"event_id": 3, "quantity": 2, "user_ref": "u"}"#).unwrap();
        let b = parse(br#"{"user_ref":"u","quantity":2,"event_id":3}"#).unwrap();
        let c = parse(br#"{"event_id": 3, "quantity": 1, "user_ref": "u"}"#).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    #[test]
    fn malformed_json_is_not_a_field_error() {
        assert!(matches!(
            parse(b"{\"event_id\": "),
            Err(HandlerError::MalformedJson(_))
        ));
    }

    #[test]
    fn only_json_content_types_pass() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/vnd.api+json",
        ] {
            assert!(require_json(Some(ok)).is_ok(), "{ok}");
        }
        for bad in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some(""),
        ] {
            assert!(require_json(bad).is_err(), "{bad:?}");
        }
    }
}
