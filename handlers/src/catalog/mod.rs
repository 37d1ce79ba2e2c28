//! Catalog reads: events straight from the shared PostgreSQL, as the admin app wrote
//! them.

mod event;
mod list_events;
mod show_event;

pub use event::Event;

use crate::schema::Column;
use crate::RegistryEntry;

/// Columns of `events` the catalog reads.
const EVENT_COLUMNS: &[Column] = &[
    ("events", "id"),
    ("events", "name"),
    ("events", "starts_at"),
    ("events", "seats_total"),
    ("events", "seats_available"),
];

pub(crate) fn list_events_entry() -> RegistryEntry {
    RegistryEntry {
        build: list_events::build,
        columns: EVENT_COLUMNS,
        params: &[],
    }
}

pub(crate) fn show_event_entry() -> RegistryEntry {
    RegistryEntry {
        build: show_event::build,
        columns: EVENT_COLUMNS,
        params: &["id"],
    }
}

/// Reads a positive integer id, or says which parameter is wrong.
fn positive_id(name: &'static str, text: &str) -> Result<i64, crate::HandlerError> {
    match text.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(crate::HandlerError::InvalidParameter {
            name,
            message: format!("must be a positive integer, got {text:?}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_positive_integers() {
        assert_eq!(positive_id("id", "42").unwrap(), 42);
        for bad in ["0", "-1", "abc", "", "1.5", "99999999999999999999"] {
            assert!(positive_id("id", bad).is_err(), "{bad:?}");
        }
    }
}
