//! Reading a route's `[routes.options]` table into a handler's typed options.
//!
//! Each handler declares its options as a struct that denies unknown fields, so a typo
//! in `routes.toml` fails the check instead of silently doing nothing.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Why a route's options are not acceptable to its handler.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OptionsError(pub String);

/// Deserializes a handler's options; a route without options gets the defaults.
pub(crate) fn parse<T: for<'de> Deserialize<'de>>(table: &toml::Table) -> Result<T, OptionsError> {
    T::deserialize(toml::Value::Table(table.clone())).map_err(|e| OptionsError(e.to_string()))
}

/// Reads a duration written as text, such as `"250ms"`, `"2s"` or `"1m"`.
pub(crate) fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text)
        .map_err(|e| serde::de::Error::custom(format!("invalid duration {text:?}: {e}")))
}

/// Reads an optional duration written as text.
pub(crate) fn optional_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    duration(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        #[serde(deserialize_with = "duration")]
        wait: Duration,
    }

    #[test]
    fn durations_read_as_text() {
        let table: toml::Table = toml::from_str("wait = \"250ms\"").unwrap();
        let sample: Sample = parse(&table).unwrap();
        assert_eq!(sample.wait, Duration::from_millis(250));
    }

    #[test]
    fn unknown_options_and_bad_durations_are_errors() {
        let typo: toml::Table = toml::from_str("wiat = \"1s\"").unwrap();
        let error = parse::<Sample>(&typo).unwrap_err();
        assert!(error.0.contains("unknown field `wiat`"), "{error}");

        let bad: toml::Table = toml::from_str("wait = \"soon\"").unwrap();
        let error = parse::<Sample>(&bad).unwrap_err();
        assert!(error.0.contains("invalid duration"), "{error}");
    }
}
