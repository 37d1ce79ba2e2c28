//! Path patterns of routes: exact (`/api/events`), with parameters
//! (`/api/events/{id}`), or with a trailing wildcard (`/admin/*`).
//!
//! Patterns match whole segments of the raw request path: `{id}` takes exactly one
//! non-empty segment, still percent-encoded, and `/admin/*` takes `/admin` itself and
//! everything below it, but not `/administrator`.

use std::cmp::Ordering;

use switchyard_handlers::PathParams;

/// One segment of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Takes exactly this text; only the last segment may be empty (`/api/`).
    Literal(String),
    /// `{name}`: takes any one non-empty segment.
    Param(String),
}

/// The three kinds of pattern, in the order they take precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PatternKind {
    Exact,
    Parameterized,
    Wildcard,
}

/// A parsed path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    text: String,
    segments: Vec<Segment>,
    wildcard: bool,
}

impl PathPattern {
    /// Parses a pattern, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some(body) = text.strip_prefix('/') else {
            return Err(format!("path pattern {text:?} must start with /"));
        };
        if text.contains(['?', '#']) {
            return Err(format!(
                "path pattern {text:?} must not contain a query or fragment"
            ));
        }
        let (body, wildcard) = match body.strip_suffix('*') {
            Some(prefix) if prefix.is_empty() || prefix.ends_with('/') => {
                (prefix.trim_end_matches('/'), true)
            }
            _ => (body, false),
        };

        let mut segments = Vec::new();
        if !(wildcard && body.is_empty()) {
            for (index, raw) in body.split('/').enumerate() {
                let last = index == body.matches('/').count();
                segments.push(segment(text, raw, last && !wildcard)?);
            }
        }
        let pattern = PathPattern {
            text: text.to_owned(),
            segments,
            wildcard,
        };
        let names: Vec<&str> = pattern.params().collect();
        let repeated = names
            .iter()
            .enumerate()
            .find(|(i, name)| names[..*i].contains(name));
        if let Some((_, name)) = repeated {
            return Err(format!(
                "path pattern {text:?} uses parameter {{{name}}} twice"
            ));
        }
        Ok(pattern)
    }

    /// Names of the pattern's `{name}` parameters, in order.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Param(name) => Some(name.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// The segments before the wildcard, if any (`/*` has none, `/` has one empty literal).
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn kind(&self) -> PatternKind {
        if self.wildcard {
            PatternKind::Wildcard
        } else if self.segments.iter().any(|s| matches!(s, Segment::Param(_))) {
            PatternKind::Parameterized
        } else {
            PatternKind::Exact
        }
    }

    /// The parameters captured when `path` matches, `None` when it does not.
    pub fn matches(&self, path: &str) -> Option<PathParams> {
        let mut rest = path.strip_prefix('/')?.split('/');
        let mut params = PathParams::default();
        for segment in &self.segments {
            let part = rest.next()?;
            match segment {
                Segment::Literal(literal) if literal == part => {}
                Segment::Param(name) if !part.is_empty() => params.push(name, part),
                _ => return None,
            }
        }
        (self.wildcard || rest.next().is_none()).then_some(params)
    }

    /// Orders two patterns by precedence: the one that should be tried first is `Less`.
    pub fn precedence(&self, other: &Self) -> Ordering {
        self.kind()
            .cmp(&other.kind())
            .then_with(|| match self.kind() {
                // A longer prefix is more specific.
                PatternKind::Wildcard => other.segments.len().cmp(&self.segments.len()),
                _ => Ordering::Equal,
            })
            .then_with(|| compare_segments(&self.segments, &other.segments))
    }

    /// Whether both patterns take exactly the same paths (parameter names aside).
    pub fn same_shape(&self, other: &Self) -> bool {
        self.wildcard == other.wildcard
            && self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Literal(a), Segment::Literal(b)) => a == b,
                    (Segment::Param(_), Segment::Param(_)) => true,
                    _ => false,
                })
    }
}

fn segment(text: &str, raw: &str, last: bool) -> Result<Segment, String> {
    if let Some(name) = raw.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        return if valid {
            Ok(Segment::Param(name.to_owned()))
        } else {
            Err(format!(
                "path pattern {text:?}: invalid parameter name {name:?}"
            ))
        };
    }
    if raw.contains(['{', '}', '*']) {
        return Err(format!(
            "path pattern {text:?}: `{{name}}` must fill a whole segment and `*` may only end the pattern as `/*`"
        ));
    }
    let path_char = |c: char| c.is_ascii_alphanumeric() || "-._~!$&'()+,;=:@%".contains(c);
    if !raw.chars().all(path_char) {
        return Err(format!(
            "path pattern {text:?}: segment {raw:?} has characters a request path cannot hold"
        ));
    }
    if raw.is_empty() && !last {
        return Err(format!("path pattern {text:?} has an empty segment (`//`)"));
    }
    Ok(Segment::Literal(raw.to_owned()))
}

/// A literal segment beats a parameter at the first position where two patterns differ.
fn compare_segments(a: &[Segment], b: &[Segment]) -> Ordering {
    for pair in a.iter().zip(b) {
        match pair {
            (Segment::Literal(_), Segment::Param(_)) => return Ordering::Less,
            (Segment::Param(_), Segment::Literal(_)) => return Ordering::Greater,
            _ => {}
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> PathPattern {
        PathPattern::parse(text).unwrap()
    }

    #[test]
    fn matching_table() {
        type Case<'a> = (&'a str, &'a str, Option<&'a [(&'a str, &'a str)]>);
        let cases: &[Case] = &[
            ("/api/events", "/api/events", Some(&[])),
            ("/api/events", "/api/events/", None),
            ("/api/events", "/api/event", None),
            ("/api/events", "/api/events/1", None),
            ("/", "/", Some(&[])),
            ("/", "/x", None),
            ("/api/events/{id}", "/api/events/42", Some(&[("id", "42")])),
            ("/api/events/{id}", "/api/events/", None),
            ("/api/events/{id}", "/api/events/42/seats", None),
            (
                "/api/events/{id}",
                "/api/events/a%20b",
                Some(&[("id", "a%20b")]),
            ),
            ("/a/{x}/b/{y}", "/a/1/b/2", Some(&[("x", "1"), ("y", "2")])),
            ("/admin/*", "/admin", Some(&[])),
            ("/admin/*", "/admin/", Some(&[])),
            ("/admin/*", "/admin/users/7", Some(&[])),
            ("/admin/*", "/administrator", None),
            ("/*", "/anything/at/all", Some(&[])),
            ("/*", "/", Some(&[])),
            ("/t/{id}/*", "/t/9/x/y", Some(&[("id", "9")])),
        ];
        for (text, path, expected) in cases {
            let mut want = PathParams::default();
            if let Some(pairs) = expected {
                for (k, v) in *pairs {
                    want.push(k, v);
                }
            }
            let got = pattern(text).matches(path);
            assert_eq!(got, expected.map(|_| want), "{text} vs {path}");
        }
    }

    #[test]
    fn bad_patterns_say_why() {
        let cases = [
            ("api/events", "must start with /"),
            ("/api/{id", "must fill a whole segment"),
            ("/api/ev*", "may only end the pattern"),
            ("/api/*/x", "may only end the pattern"),
            ("/api/{1d}", "invalid parameter name"),
            ("/api/{}", "invalid parameter name"),
            ("/a//b", "empty segment"),
            ("/a/{id}/b/{id}", "twice"),
            ("/a?x=1", "query"),
            ("/ad min/*", "cannot hold"),
            ("/a/\u{e9}", "cannot hold"),
        ];
        for (text, reason) in cases {
            let error = PathPattern::parse(text).unwrap_err();
            assert!(error.contains(reason), "{text}: {error}");
        }
    }

    #[test]
    fn kinds_and_precedence() {
        assert_eq!(pattern("/api/events").kind(), PatternKind::Exact);
        assert_eq!(
            pattern("/api/events/{id}").kind(),
            PatternKind::Parameterized
        );
        assert_eq!(pattern("/api/*").kind(), PatternKind::Wildcard);

        let ordered = [
            "/api/events/new",
            "/api/events/{id}",
            "/api/{kind}/{id}",
            "/api/events/*",
            "/api/*",
            "/*",
        ];
        for pair in ordered.windows(2) {
            assert_eq!(
                pattern(pair[0]).precedence(&pattern(pair[1])),
                Ordering::Less,
                "{pair:?}"
            );
            assert_eq!(
                pattern(pair[1]).precedence(&pattern(pair[0])),
                Ordering::Greater,
                "{pair:?}"
            );
        }
    }

    #[test]
    fn shapes_ignore_parameter_names() {
        assert!(pattern("/e/{id}").same_shape(&pattern("/e/{event}")));
        assert!(!pattern("/e/{id}").same_shape(&pattern("/e/new")));
        assert!(!pattern("/e/*").same_shape(&pattern("/e")));
    }
}
