//! Routes that compete for the same requests: a route that can never match because
//! one tried before it takes every request it would (shadowed), and two routes that
//! can both take some request, where precedence quietly picks one (overlap).
//!
//! The analysis reads the routes in the table's order ([`RouteTable::routes`]), so it
//! sees precedence exactly as a request does, and compares them two at a time on the
//! three things a route matches: path, methods and host. It is conservative: a route
//! that only several earlier routes together cover is not called shadowed, but what is
//! reported is certain. Printing findings, with lines and columns, is left to
//! [`super`].
//!
//! Paths are compared as sets of segment lists: a literal takes one text, `{name}` any
//! non-empty segment, and `/prefix/*` the prefix followed by anything at all, `/prefix`
//! itself included. Hosts form a tree (`a.example.com` inside `*.example.com` inside
//! any host), so two host patterns share a request only when one contains the other.
//!
//! [`RouteTable::routes`]: crate::routing::RouteTable::routes

use http::Method;

use crate::routing::{HostPattern, PathPattern, PatternKind, Route, Segment};

/// What is wrong with a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    /// The route never takes a request: the winner takes them all.
    Shadowed,
    /// Some requests the route would take go to the winner.
    Overlap,
}

impl FindingKind {
    /// The name used in `check --format json`.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Shadowed => "shadowed",
            FindingKind::Overlap => "overlap",
        }
    }
}

/// One route that loses requests to a route tried before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    /// File position of the route that loses.
    pub route: usize,
    /// File position of the route that is tried first and takes the requests.
    pub winner: usize,
    /// The losing route, e.g. `` `/api/*` on host api.example.com ``.
    route_label: String,
    winner_label: String,
    /// For an overlap, one request both routes take, e.g. `` `GET /api/events/7` ``.
    example: Option<String>,
}

impl Finding {
    /// A one-line explanation; `winner_line` is the winner's line in the file.
    pub fn message(&self, winner_line: usize) -> String {
        let (route, winner) = (&self.route_label, &self.winner_label);
        match (&self.example, self.kind) {
            (Some(example), FindingKind::Overlap) => format!(
                "{route} overlaps {winner} at line {winner_line} (both take {example}); \
                 line {winner_line} wins by precedence"
            ),
            _ => format!(
                "{route} never matches: {winner} at line {winner_line} is tried first \
                 and takes every request it would"
            ),
        }
    }
}

/// Every shadowed route and every overlap of `routes`, which must be in the table's
/// order; sorted by the file position of the route that loses.
pub fn findings(routes: &[Route]) -> Vec<Finding> {
    let shadowed_by: Vec<Option<&Route>> = routes
        .iter()
        .enumerate()
        .map(|(i, route)| routes[..i].iter().find(|s| covers(s, route)))
        .collect();

    let mut found = Vec::new();
    for (i, route) in routes.iter().enumerate() {
        if let Some(winner) = shadowed_by[i] {
            found.push(finding(FindingKind::Shadowed, route, winner, None));
            continue;
        }
        // A shadowed route takes no request, so it cannot take one from `route`.
        let live = routes[..i]
            .iter()
            .zip(&shadowed_by)
            .filter(|(_, s)| s.is_none());
        for (winner, _) in live {
            if let Some(example) = shared_request(winner, route) {
                found.push(finding(FindingKind::Overlap, route, winner, Some(example)));
            }
        }
    }
    found.sort_by_key(|f| (f.route, f.winner));
    found
}

fn finding(kind: FindingKind, route: &Route, winner: &Route, example: Option<String>) -> Finding {
    Finding {
        kind,
        route: route.position,
        winner: winner.position,
        route_label: label(route),
        winner_label: label(winner),
        example,
    }
}

/// `` `/api/*` `` or `` `/api/*` on host *.example.com ``.
fn label(route: &Route) -> String {
    match &route.host {
        Some(host) => format!("`{}` on host {}", route.pattern.as_str(), host_text(host)),
        None => format!("`{}`", route.pattern.as_str()),
    }
}

/// Whether `outer` takes every request `inner` takes.
fn covers(outer: &Route, inner: &Route) -> bool {
    paths_cover(&outer.pattern, &inner.pattern)
        && methods_cover(outer.methods.as_deref(), inner.methods.as_deref())
        && hosts_cover(outer.host.as_ref(), inner.host.as_ref())
}

/// A request both routes take, written `` `METHOD /path` on host NAME ``, when there is one.
fn shared_request(a: &Route, b: &Route) -> Option<String> {
    let method = shared_method(a.methods.as_deref(), b.methods.as_deref())?;
    let host = shared_host(a.host.as_ref(), b.host.as_ref())?;
    let path = shared_path(&a.pattern, &b.pattern)?;
    let method = method.map_or(String::new(), |m| format!("{m} "));
    let host = host.map_or(String::new(), |h| format!(" on host {h}"));
    Some(format!("`{method}{path}`{host}"))
}

/// Whether every path `inner` matches, `outer` matches too.
fn paths_cover(outer: &PathPattern, inner: &PathPattern) -> bool {
    let (o, i) = (outer.segments(), inner.segments());
    let lengths_fit = match (is_wildcard(outer), is_wildcard(inner)) {
        (false, false) => o.len() == i.len(),
        // The wildcard's prefix must end within every path `inner` matches.
        (true, _) => o.len() <= i.len(),
        // `inner` matches paths of every length past its prefix.
        (false, true) => false,
    };
    lengths_fit && o.iter().zip(i).all(|(o, i)| segment_covers(o, i))
}

fn segment_covers(outer: &Segment, inner: &Segment) -> bool {
    match (outer, inner) {
        (Segment::Literal(o), Segment::Literal(i)) => o == i,
        (Segment::Param(_), Segment::Literal(i)) => !i.is_empty(),
        (Segment::Param(_), Segment::Param(_)) => true,
        (Segment::Literal(_), Segment::Param(_)) => false,
    }
}

/// A path both patterns match, parameters left as `{name}`; `None` when they share none.
fn shared_path(a: &PathPattern, b: &PathPattern) -> Option<String> {
    let lengths_meet = match (is_wildcard(a), is_wildcard(b)) {
        (false, false) => a.segments().len() == b.segments().len(),
        (true, false) => a.segments().len() <= b.segments().len(),
        (false, true) => b.segments().len() <= a.segments().len(),
        (true, true) => true,
    };
    if !lengths_meet {
        return None;
    }
    // The longer list decides the length; the shorter one ends in a wildcard here.
    let (long, short) = if a.segments().len() >= b.segments().len() {
        (a.segments(), b.segments())
    } else {
        (b.segments(), a.segments())
    };
    let mut parts = Vec::with_capacity(long.len());
    for (index, segment) in long.iter().enumerate() {
        let segment = match short.get(index) {
            Some(other) => shared_segment(segment, other)?,
            None => segment,
        };
        parts.push(match segment {
            Segment::Literal(text) => text.clone(),
            Segment::Param(name) => format!("{{{name}}}"),
        });
    }
    Some(format!("/{}", parts.join("/")))
}

/// The narrower of two segments that share a value.
fn shared_segment<'a>(a: &'a Segment, b: &'a Segment) -> Option<&'a Segment> {
    match (a, b) {
        (Segment::Literal(x), Segment::Literal(y)) => (x == y).then_some(a),
        (Segment::Literal(x), Segment::Param(_)) => (!x.is_empty()).then_some(a),
        (Segment::Param(_), Segment::Literal(y)) => (!y.is_empty()).then_some(b),
        (Segment::Param(_), Segment::Param(_)) => Some(a),
    }
}

fn is_wildcard(pattern: &PathPattern) -> bool {
    pattern.kind() == PatternKind::Wildcard
}

/// Whether `outer` takes every method `inner` takes; `None` is every method.
fn methods_cover(outer: Option<&[Method]>, inner: Option<&[Method]>) -> bool {
    match (outer, inner) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(outer), Some(inner)) => inner.iter().all(|m| outer.contains(m)),
    }
}

/// A method both take: `Some(None)` when both take every method.
fn shared_method<'a>(
    a: Option<&'a [Method]>,
    b: Option<&'a [Method]>,
) -> Option<Option<&'a Method>> {
    match (a, b) {
        (None, None) => Some(None),
        (Some(list), None) | (None, Some(list)) => list.first().map(Some),
        (Some(a), Some(b)) => a.iter().find(|m| b.contains(m)).map(Some),
    }
}

/// Whether `outer` takes every host `inner` takes; `None` is any host, or none at all.
fn hosts_cover(outer: Option<&HostPattern>, inner: Option<&HostPattern>) -> bool {
    let (outer, inner) = match (outer, inner) {
        (None, _) => return true,
        (Some(_), None) => return false,
        (Some(outer), Some(inner)) => (outer, inner),
    };
    match (outer, inner) {
        (HostPattern::Exact(o), HostPattern::Exact(i)) => o == i,
        (HostPattern::Subdomains(_), HostPattern::Exact(name)) => outer.matches(name),
        (HostPattern::Subdomains(o), HostPattern::Subdomains(i)) => i.ends_with(o.as_str()),
        (HostPattern::Exact(_), HostPattern::Subdomains(_)) => false,
    }
}

/// A host both take, as a pattern: `Some(None)` when both take any host.
fn shared_host(a: Option<&HostPattern>, b: Option<&HostPattern>) -> Option<Option<String>> {
    if hosts_cover(a, b) {
        Some(b.or(a).map(host_text))
    } else if hosts_cover(b, a) {
        Some(a.map(host_text))
    } else {
        None
    }
}

/// A host pattern as written in the file.
fn host_text(host: &HostPattern) -> String {
    match host {
        HostPattern::Exact(name) => name.clone(),
        HostPattern::Subdomains(suffix) => format!("*{suffix}"),
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write;
    use std::path::Path;

    use switchyard_handlers::Registry;

    use super::*;

    fn path(text: &str) -> PathPattern {
        PathPattern::parse(text).unwrap()
    }

    fn host(text: &str) -> Option<HostPattern> {
        (!text.is_empty()).then(|| HostPattern::parse(text).unwrap())
    }

    /// Routes written `(path, methods, host)`, in file order, loaded as `check` loads
    /// them; each finding as `kind route by winner[: example]`.
    fn analyse(routes: &[(&str, &str, &str)]) -> Vec<String> {
        let mut source = String::from(
            "[server]\ndefault_upstream = \"legacy\"\n\
             [upstreams.legacy]\naddresses = [\"127.0.0.1:3000\"]\n",
        );
        for (path, methods, host) in routes {
            write!(
                source,
                "[[routes]]\npath = \"{path}\"\nupstream = \"legacy\"\n"
            )
            .unwrap();
            if !methods.is_empty() {
                let quoted: Vec<String> = methods.split(',').map(|m| format!("{m:?}")).collect();
                writeln!(source, "methods = [{}]", quoted.join(", ")).unwrap();
            }
            if !host.is_empty() {
                writeln!(source, "host = \"{host}\"").unwrap();
            }
        }
        let registry = Registry::standard();
        let config = crate::config::from_source(Path::new("routes.toml"), &source, &registry)
            .unwrap_or_else(|e| panic!("{e}\n{source}"));
        findings(config.table.routes()).iter().map(short).collect()
    }

    fn short(finding: &Finding) -> String {
        let mut text = format!(
            "{} {} by {}",
            finding.kind.as_str(),
            finding.route,
            finding.winner
        );
        if let Some(example) = &finding.example {
            write!(text, ": {example}").unwrap();
        }
        text
    }

    #[test]
    fn path_cover_table() {
        let cases = [
            ("/a/{x}", "/a/b", true),
            ("/a/b", "/a/{x}", false),
            ("/a/{x}", "/a/", false),
            ("/a/{x}", "/a/{y}/c", false),
            ("/a/*", "/a/b/{c}", true),
            ("/a/*", "/a", true),
            ("/a/*", "/a/*", true),
            ("/a/*", "/a/b/*", true),
            ("/a/b/*", "/a/*", false),
            ("/a/*", "/ab", false),
            ("/a", "/a/*", false),
            ("/a/{x}/*", "/a/b/c", true),
            ("/a/{x}/*", "/a", false),
            ("/*", "/", true),
            ("/*", "/{x}/*", true),
            ("/{x}", "/", false),
            ("/", "/", true),
        ];
        for (outer, inner, expected) in cases {
            assert_eq!(
                paths_cover(&path(outer), &path(inner)),
                expected,
                "{outer} ⊇ {inner}"
            );
        }
    }

    #[test]
    fn shared_path_table() {
        let cases = [
            ("/api/events/{id}", "/api/{kind}/7", Some("/api/events/7")),
            ("/{a}/b", "/c/{d}", Some("/c/b")),
            ("/a/{x}", "/a/{y}", Some("/a/{x}")),
            ("/a/*", "/a/b/*", Some("/a/b")),
            ("/a/*", "/a/b/c", Some("/a/b/c")),
            ("/*", "/", Some("/")),
            ("/*", "/*", Some("/")),
            ("/a/*", "/b/*", None),
            ("/a/{x}", "/a/", None),
            ("/a/{x}", "/a/b/c", None),
            ("/a/b/*", "/a", None),
            ("/a/b", "/a/c", None),
        ];
        for (a, b, expected) in cases {
            assert_eq!(
                shared_path(&path(a), &path(b)).as_deref(),
                expected,
                "{a} ∩ {b}"
            );
            let reversed = shared_path(&path(b), &path(a));
            assert_eq!(reversed.is_some(), expected.is_some(), "{b} ∩ {a}");
        }
    }

    /// Every path of up to four segments drawn from a few values, empty ones included.
    fn sample_paths() -> Vec<String> {
        let values = ["a", "b", "7", "events", ""];
        let mut paths: Vec<Vec<&str>> = values.iter().map(|v| vec![*v]).collect();
        let mut last = paths.clone();
        for _ in 1..4 {
            last = last
                .iter()
                .flat_map(|p| values.iter().map(move |v| [p.as_slice(), &[*v]].concat()))
                .collect();
            paths.extend(last.iter().cloned());
        }
        paths.iter().map(|p| format!("/{}", p.join("/"))).collect()
    }

    #[test]
    fn relations_agree_with_matching() {
        let patterns = [
            "/",
            "/*",
            "/a",
            "/a/",
            "/a/*",
            "/{x}",
            "/{x}/*",
            "/a/{x}",
            "/a/b",
            "/a/b/*",
            "/{x}/7",
            "/a/{x}/*",
            "/{x}/{y}",
            "/events/{x}/7",
            "/b/*",
        ];
        let paths = sample_paths();
        for a in patterns.map(path) {
            for b in patterns.map(path) {
                let both = paths
                    .iter()
                    .find(|p| a.matches(p).is_some() && b.matches(p).is_some());
                let escapes = paths
                    .iter()
                    .find(|p| b.matches(p).is_some() && a.matches(p).is_none());
                let (a_text, b_text) = (a.as_str(), b.as_str());
                // Exact, not merely conservative, on these samples.
                assert_eq!(
                    paths_cover(&a, &b),
                    escapes.is_none(),
                    "{a_text} ⊇ {b_text}"
                );
                match shared_path(&a, &b) {
                    Some(shared) => {
                        assert!(
                            a.matches(&shared).is_some(),
                            "{a_text} ∩ {b_text}: {shared}"
                        );
                        assert!(
                            b.matches(&shared).is_some(),
                            "{a_text} ∩ {b_text}: {shared}"
                        );
                    }
                    None => assert_eq!(both, None, "{a_text} ∩ {b_text} is not empty"),
                }
                if both.is_some() {
                    assert!(
                        shared_path(&a, &b).is_some(),
                        "{a_text} ∩ {b_text} is empty"
                    );
                }
            }
        }
    }

    #[test]
    fn host_cover_table() {
        let cases = [
            ("", "a.example.com", true),
            ("", "", true),
            ("a.example.com", "", false),
            ("*.example.com", "", false),
            ("a.example.com", "a.example.com", true),
            ("a.example.com", "b.example.com", false),
            ("*.example.com", "a.example.com", true),
            ("*.example.com", "example.com", false),
            ("*.example.com", "*.a.example.com", true),
            ("*.a.example.com", "*.example.com", false),
            ("*.example.com", "*.badexample.com", false),
            ("a.example.com", "*.example.com", false),
        ];
        for (outer, inner, expected) in cases {
            let (o, i) = (host(outer), host(inner));
            assert_eq!(
                hosts_cover(o.as_ref(), i.as_ref()),
                expected,
                "{outer} ⊇ {inner}"
            );
        }
    }

    #[test]
    fn method_cover_table() {
        let list = |text: &str| -> Option<Vec<Method>> {
            (!text.is_empty()).then(|| text.split(',').map(|m| m.parse().unwrap()).collect())
        };
        let cases = [
            ("", "GET", true),
            ("GET", "", false),
            ("GET,HEAD", "HEAD", true),
            ("GET", "GET,POST", false),
            ("", "", true),
        ];
        for (outer, inner, expected) in cases {
            let (o, i) = (list(outer), list(inner));
            assert_eq!(
                methods_cover(o.as_deref(), i.as_deref()),
                expected,
                "{outer} ⊇ {inner}"
            );
        }
    }

    #[test]
    fn findings_table() {
        type Case<'a> = (&'a [(&'a str, &'a str, &'a str)], &'a [&'a str]);
        let cases: &[Case] = &[
            // An exact host wins over a wildcard host wherever it is listed.
            (
                &[
                    ("/api/*", "", "*.example.com"),
                    ("/api/*", "", "api.example.com"),
                ],
                &["overlap 0 by 1: `/api` on host api.example.com"],
            ),
            (
                &[
                    ("/api/*", "", "api.example.com"),
                    ("/api/*", "", "*.example.com"),
                ],
                &["overlap 1 by 0: `/api` on host api.example.com"],
            ),
            (
                &[("/a/*", "", "*.x.com"), ("/a/*", "GET", "a.x.com")],
                &["overlap 0 by 1: `GET /a` on host a.x.com"],
            ),
            (
                &[("/a/*", "GET", "*.x.com"), ("/a/*", "", "a.x.com")],
                &["overlap 0 by 1: `GET /a` on host a.x.com"],
            ),
            // Precedence, not file order, picks the winner.
            (
                &[("/api/{kind}/7", "", ""), ("/api/events/{id}", "", "")],
                &["overlap 0 by 1: `/api/events/7`"],
            ),
            (
                &[
                    ("/api/events/{id}", "GET", ""),
                    ("/api/events/featured", "", ""),
                ],
                &["overlap 0 by 1: `GET /api/events/featured`"],
            ),
            (
                &[("/a/*", "", ""), ("/a/b/{c}", "", "")],
                &["overlap 0 by 1: `/a/b/{c}`"],
            ),
            // A wildcard never shadows an exact route listed after it: exact goes first.
            (
                &[("/api/*", "", ""), ("/api/events", "", "")],
                &["overlap 0 by 1: `/api/events`"],
            ),
            // Exact hosts first, then the longer wildcard suffix.
            (
                &[
                    ("/a/{x}", "GET", "*.x.com"),
                    ("/a/{y}", "GET", "a.x.com"),
                    ("/a/{z}", "GET,POST", "*.com"),
                ],
                &[
                    "overlap 0 by 1: `GET /a/{y}` on host a.x.com",
                    "overlap 2 by 0: `GET /a/{x}` on host *.x.com",
                    "overlap 2 by 1: `GET /a/{y}` on host a.x.com",
                ],
            ),
            // Disjoint methods, hosts or paths share nothing.
            (&[("/x", "GET", ""), ("/x", "POST", "")], &[]),
            (&[("/x", "", "a.com"), ("/x", "", "b.com")], &[]),
            (
                &[("/x/{id}", "", ""), ("/x", "", ""), ("/y/*", "", "")],
                &[],
            ),
            (&[("/admin/*", "", ""), ("/administrator", "", "")], &[]),
        ];
        for (routes, expected) in cases {
            assert_eq!(analyse(routes), *expected, "{routes:?}");
        }
    }

    #[test]
    fn the_shipped_route_file_has_no_findings() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../routes.toml");
        let config = crate::config::load(&file, &Registry::standard()).unwrap();
        assert_eq!(findings(config.table.routes()), []);
    }

    #[test]
    fn messages_name_the_winner_and_its_line() {
        let finding = Finding {
            kind: FindingKind::Overlap,
            route: 0,
            winner: 1,
            route_label: "`/api/{kind}/7`".into(),
            winner_label: "`/api/events/{id}`".into(),
            example: Some("`/api/events/7`".into()),
        };
        assert_eq!(
            finding.message(12),
            "`/api/{kind}/7` overlaps `/api/events/{id}` at line 12 \
             (both take `/api/events/7`); line 12 wins by precedence"
        );
        let shadowed = Finding {
            kind: FindingKind::Shadowed,
            example: None,
            ..finding
        };
        assert!(shadowed.message(3).starts_with(
            "`/api/{kind}/7` never matches: `/api/events/{id}` at line 3 is tried first"
        ));
    }
}
