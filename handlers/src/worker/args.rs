//! Reading and validating a booking job's positional `args`.
//!
//! The contract fixes the order and the rules: `[booking_id (UUID string), event_id
//! (integer > 0), user_ref (1 to 255 characters), quantity (integer 1 to 10),
//! enqueued_at_ms (integer epoch milliseconds)]`. A job that breaks a rule is the job's
//! fault: it is rejected with `invalid_args:<field>`, never retried. The rules and their
//! order are those of the reference Ruby job (`sidekiq/booking_job.rb`), so both
//! workers reject the same jobs for the same reason.

use serde_json::Value;
use uuid::Uuid;

/// Most seats one booking may take (the contract's rule for `quantity`).
pub const MAX_QUANTITY: i64 = 10;
/// Longest `user_ref`, in characters.
pub const MAX_USER_REF_CHARS: usize = 255;
/// How many positional arguments a booking job has.
pub const ARGS_LEN: usize = 5;

/// A booking id as the job carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingId {
    /// As written in `args[0]`: the status record's key and the published `id`.
    pub text: String,
    /// For the `bookings` row.
    pub uuid: Uuid,
}

/// Arguments that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingArgs {
    pub booking_id: BookingId,
    pub event_id: i64,
    pub user_ref: String,
    /// Within 1 to [`MAX_QUANTITY`], so it always fits the column's `integer`.
    pub quantity: i32,
    pub enqueued_at_ms: i64,
}

/// The first rule a job breaks, named as the status record's reason shows it: an
/// argument's name, or `args` when the list itself is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid_args:{field}")]
pub struct InvalidArgument {
    pub field: &'static str,
}

/// `args[0]` when it is a UUID in the hyphenated form (either case): the id a status
/// record can be keyed by. Without one there is no client to tell.
pub fn booking_id(args: Option<&[Value]>) -> Option<BookingId> {
    let text = args?.first()?.as_str()?;
    let hyphenated = text.len() == 36 && text.matches('-').count() == 4;
    let uuid = Uuid::try_parse(text).ok().filter(|_| hyphenated)?;
    Some(BookingId {
        text: text.to_owned(),
        uuid,
    })
}

/// All five arguments, or the first that breaks its rule.
pub fn validate(args: Option<&[Value]>) -> Result<BookingArgs, InvalidArgument> {
    let invalid = |field| InvalidArgument { field };
    let list = args.ok_or(invalid("args"))?;
    let at = |index: usize| list.get(index);
    let valid = BookingArgs {
        booking_id: booking_id(args).ok_or(invalid("booking_id"))?,
        event_id: at(1)
            .and_then(Value::as_i64)
            .filter(|id| *id > 0)
            .ok_or(invalid("event_id"))?,
        user_ref: at(2)
            .and_then(Value::as_str)
            .filter(|text| (1..=MAX_USER_REF_CHARS).contains(&text.chars().count()))
            .ok_or(invalid("user_ref"))?
            .to_owned(),
        quantity: at(3).and_then(quantity).ok_or(invalid("quantity"))?,
        enqueued_at_ms: at(4)
            .and_then(Value::as_i64)
            .filter(|ms| *ms > 0)
            .ok_or(invalid("enqueued_at_ms"))?,
    };
    // Checked last so that a broken argument is named rather than the list.
    if list.len() > ARGS_LEN {
        return Err(invalid("args"));
    }
    Ok(valid)
}

fn quantity(value: &Value) -> Option<i32> {
    let quantity = value.as_i64().filter(|q| (1..=MAX_QUANTITY).contains(q))?;
    i32::try_from(quantity).ok()
}

/// A job value as the status record echoes it: strings as they are, anything else as
/// JSON text, nothing as empty.
pub fn echo(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "6f1c2a9e-3b7d-4c1e-9a55-0d2f8e7b6a41";

    fn check(args: Value) -> Result<BookingArgs, &'static str> {
        validate(args.as_array().map(Vec::as_slice)).map_err(|e| e.field)
    }

    #[test]
    fn valid_args_are_typed() {
        let args = check(json!([ID, 3, "fan-1", 2, 1_764_864_000_123_i64])).unwrap();
        assert_eq!(args.booking_id.text, ID);
        assert_eq!(args.booking_id.uuid.to_string(), ID);
        assert_eq!(
            (args.event_id, args.user_ref.as_str(), args.quantity),
            (3, "fan-1", 2)
        );
        assert_eq!(args.enqueued_at_ms, 1_764_864_000_123);
    }

    #[test]
    fn each_broken_rule_names_its_field() {
        let now = 1_764_864_000_123_i64;
        let long = "x".repeat(256);
        let cases = [
            (json!([]), "booking_id"),
            (json!(["not-a-uuid", 3, "u", 1, now]), "booking_id"),
            (json!([42, 3, "u", 1, now]), "booking_id"),
            (json!([ID, 0, "u", 1, now]), "event_id"),
            (json!([ID, "3", "u", 1, now]), "event_id"),
            (json!([ID, 3.0, "u", 1, now]), "event_id"),
            (json!([ID, u64::MAX, "u", 1, now]), "event_id"),
            (json!([ID, 3, "", 1, now]), "user_ref"),
            (json!([ID, 3, long, 1, now]), "user_ref"),
            (json!([ID, 3, 7, 1, now]), "user_ref"),
            (json!([ID, 3, "u", 0, now]), "quantity"),
            (json!([ID, 3, "u", 11, now]), "quantity"),
            (json!([ID, 3, "u", "2", now]), "quantity"),
            (json!([ID, 3, "u", 1]), "enqueued_at_ms"),
            (json!([ID, 3, "u", 1, 1.7e12]), "enqueued_at_ms"),
            (json!([ID, 3, "u", 1, -5]), "enqueued_at_ms"),
            // A broken argument is named before a list that is too long.
            (json!([ID, 3, "u", 0, now, "extra"]), "quantity"),
            (json!([ID, 3, "u", 1, now, "extra"]), "args"),
            (json!({"booking_id": ID}), "args"),
        ];
        for (args, field) in cases {
            assert_eq!(check(args.clone()), Err(field), "{args}");
        }
    }

    #[test]
    fn booking_ids_are_hyphenated_uuids_kept_as_written() {
        let upper = ID.to_uppercase();
        let cases = [
            (json!([ID]), Some(ID.to_owned())),
            (json!([upper]), Some(upper.clone())),
            (json!(["6f1c2a9e3b7d4c1e9a550d2f8e7b6a41"]), None),
            (json!([format!("{{{ID}}}")]), None),
            (json!([format!("urn:uuid:{ID}")]), None),
            (json!([7]), None),
            (json!([]), None),
        ];
        for (args, expected) in cases {
            let found = booking_id(args.as_array().map(Vec::as_slice)).map(|id| id.text);
            assert_eq!(found, expected, "{args}");
        }
        assert!(booking_id(None).is_none());
    }

    #[test]
    fn user_ref_counts_characters_not_bytes() {
        let user_ref = "é".repeat(MAX_USER_REF_CHARS);
        assert!(check(json!([ID, 3, user_ref, 1, 1])).is_ok());
    }

    #[test]
    fn echo_shows_values_as_the_job_has_them() {
        let cases = [
            (Some(json!("fan-1")), "fan-1"),
            (Some(json!(3)), "3"),
            (Some(json!(1.5)), "1.5"),
            (Some(json!(null)), ""),
            (None, ""),
        ];
        for (value, expected) in cases {
            assert_eq!(echo(value.as_ref()), expected, "{value:?}");
        }
    }
}
