//! Host patterns of routes: an exact name (`api.example.com`) or every subdomain of
//! one (`*.example.com`).

/// A parsed host pattern; names compare without case and without a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    Exact(String),
    /// Holds the suffix with its leading dot: `.example.com`.
    Subdomains(String),
}

impl HostPattern {
    /// Parses a pattern, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let lower = text.to_ascii_lowercase();
        let (name, pattern): (&str, fn(String) -> Self) = match lower.strip_prefix("*.") {
            Some(rest) => (rest, |n| Self::Subdomains(format!(".{n}"))),
            None => (&lower, Self::Exact),
        };
        let valid = !name.is_empty()
            && name.split('.').all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if valid {
            Ok(pattern(name.to_owned()))
        } else {
            Err(format!(
                "host {text:?} must be a host name such as api.example.com or *.example.com"
            ))
        }
    }

    /// Whether a request's `Host` (possibly with a port) matches.
    pub fn matches(&self, host: &str) -> bool {
        let name = strip_port(host);
        match self {
            Self::Exact(exact) => name.eq_ignore_ascii_case(exact),
            Self::Subdomains(suffix) => {
                name.len() > suffix.len()
                    && name.is_char_boundary(name.len() - suffix.len())
                    && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
            }
        }
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // An IPv6 literal: keep the brackets, drop the port.
        return host
            .split_once(']')
            .map_or(host, |(inner, _)| &host[..inner.len() + 1]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_table() {
        let cases = [
            ("api.example.com", "api.example.com", true),
            ("api.example.com", "API.Example.com:8080", true),
            ("api.example.com", "www.example.com", false),
            ("*.example.com", "a.example.com", true),
            ("*.example.com", "a.b.example.com:443", true),
            ("*.example.com", "example.com", false),
            ("*.example.com", "badexample.com", false),
        ];
        for (pattern, host, expected) in cases {
            assert_eq!(
                HostPattern::parse(pattern).unwrap().matches(host),
                expected,
                "{pattern} vs {host}"
            );
        }
    }

    #[test]
    fn bad_hosts_are_refused() {
        for bad in ["", "*.", "a..b", "http://a.com", "a.com/x", "*"] {
            assert!(HostPattern::parse(bad).is_err(), "{bad:?}");
        }
    }
}
