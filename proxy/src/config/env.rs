//! `${NAME}` and `${NAME:-default}` in string values of the route file.
//!
//! Expansion happens value by value after parsing, never on the raw text, so a
//! variable's content can neither break the TOML syntax nor move error positions, and
//! a `${...}` inside a comment stays a comment.

/// Why a value could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("environment variable {0} is not set (write ${{{0}:-default}} to give a default)")]
    Missing(String),
    #[error("unterminated ${{ in {0:?}")]
    Unterminated(String),
    #[error("invalid variable name {0:?}")]
    InvalidName(String),
}

/// Expands every `${...}` in `text`, reading variables through `lookup`.
pub fn expand_with(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, EnvError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| EnvError::Unterminated(text.to_owned()))?;
        out.push_str(&resolve(&after[..end], &lookup)?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Expands `text` from the process environment.
pub fn expand(text: &str) -> Result<String, EnvError> {
    expand_with(text, |name| std::env::var(name).ok())
}

fn resolve(inner: &str, lookup: &impl Fn(&str) -> Option<String>) -> Result<String, EnvError> {
    let (name, default) = match inner.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (inner, None),
    };
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(EnvError::InvalidName(name.to_owned()));
    }
    // Like the shell's `:-`, an empty variable counts as unset when a default is given.
    match (
        lookup(name).filter(|v| !v.is_empty() || default.is_none()),
        default,
    ) {
        (Some(value), _) => Ok(value),
        (None, Some(default)) => Ok(default.to_owned()),
        (None, None) => Err(EnvError::Missing(name.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db.internal".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expansion_table() {
        let cases = [
            ("plain", Ok("plain")),
            ("${HOST}", Ok("db.internal")),
            (
                "pg://${HOST}:5432/${DB:-app}",
                Ok("pg://db.internal:5432/app"),
            ),
            ("${EMPTY:-fallback}", Ok("fallback")),
            ("${EMPTY}", Ok("")),
            ("${NOPE:-}", Ok("")),
            ("${NOPE}", Err(EnvError::Missing("NOPE".into()))),
            ("${HOST", Err(EnvError::Unterminated("${HOST".into()))),
            ("${1X}", Err(EnvError::InvalidName("1X".into()))),
            ("${}", Err(EnvError::InvalidName(String::new()))),
        ];
        for (input, expected) in cases {
            let expected = expected.map(str::to_owned);
            assert_eq!(expand_with(input, lookup), expected, "{input}");
        }
    }
}
