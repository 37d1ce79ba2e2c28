//! The route table: routes in precedence order, and the lookup for one request.

use std::cmp::Ordering;

use http::Method;
use switchyard_handlers::PathParams;

use super::{HostPattern, Route};

/// The route a request matched, with its path parameters.
pub struct RouteMatch<'a> {
    pub route: &'a Route,
    pub params: PathParams,
}

/// Routes sorted so that the first one that matches is the right one.
#[derive(Clone, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// Sorts `routes` into precedence order: kind of pattern, then host-specific
    /// before any-host, then specificity, then file order.
    pub fn new(mut routes: Vec<Route>) -> Self {
        routes.sort_by(precedence);
        RouteTable { routes }
    }

    /// The route for a request, or `None` when it belongs to the default upstream.
    pub fn find(&self, method: &Method, host: Option<&str>, path: &str) -> Option<RouteMatch<'_>> {
        self.routes
            .iter()
            .filter(|route| route.accepts(method, host))
            .find_map(|route| {
                let params = route.pattern.matches(path)?;
                Some(RouteMatch { route, params })
            })
    }

    /// The routes in the order they are tried.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}

fn precedence(a: &Route, b: &Route) -> Ordering {
    a.pattern
        .kind()
        .cmp(&b.pattern.kind())
        .then_with(|| host_rank(&a.host).cmp(&host_rank(&b.host)))
        .then_with(|| a.pattern.precedence(&b.pattern))
        .then_with(|| a.position.cmp(&b.position))
}

/// An exact host before a wildcard host (the longer suffix first), before any host.
fn host_rank(host: &Option<HostPattern>) -> (u8, std::cmp::Reverse<usize>) {
    match host {
        Some(HostPattern::Exact(_)) => (0, std::cmp::Reverse(0)),
        Some(HostPattern::Subdomains(suffix)) => (1, std::cmp::Reverse(suffix.len())),
        None => (2, std::cmp::Reverse(0)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::routing::{HostPattern, PathPattern, Target};
    use crate::upstream::{Upstream, UpstreamTimeouts};

    fn route(position: usize, path: &str, methods: &[&str], host: Option<&str>) -> Route {
        let upstream = Upstream::new(
            format!("u{position}"),
            vec!["127.0.0.1:1".parse().unwrap()],
            UpstreamTimeouts::default(),
        );
        Route {
            name: format!("r{position}"),
            pattern: PathPattern::parse(path).unwrap(),
            methods: (!methods.is_empty())
                .then(|| methods.iter().map(|m| m.parse().unwrap()).collect()),
            host: host.map(|h| HostPattern::parse(h).unwrap()),
            target: Target::Upstream(Arc::new(upstream)),
            position,
            max_body: None,
            rate_limit: None,
            timeouts: Default::default(),
            cache: None,
        }
    }

    fn table() -> RouteTable {
        RouteTable::new(vec![
            route(0, "/admin/*", &[], None),
            route(1, "/api/events/{id}", &["GET"], None),
            route(2, "/api/events", &["GET"], None),
            route(3, "/api/bookings", &["POST"], None),
            route(4, "/api/events/featured", &["GET"], None),
            route(5, "/api/*", &[], Some("partners.example.com")),
            route(6, "/api/*", &[], None),
            route(7, "/admin/reports/*", &[], None),
            route(8, "/api/events/{id}", &["GET"], None),
            route(9, "/shop/*", &[], Some("*.example.com")),
            route(10, "/shop/*", &[], Some("api.example.com")),
        ])
    }

    #[test]
    fn lookup_table() {
        let table = table();
        let cases = [
            ("GET", None, "/api/events", Some("r2")),
            ("GET", None, "/api/events/42", Some("r1")),
            ("GET", None, "/api/events/featured", Some("r4")),
            ("DELETE", None, "/api/events/42", Some("r6")),
            ("POST", None, "/api/bookings", Some("r3")),
            ("GET", None, "/api/bookings", Some("r6")),
            (
                "GET",
                Some("partners.example.com"),
                "/api/bookings",
                Some("r5"),
            ),
            ("GET", None, "/admin/reports/daily", Some("r7")),
            ("GET", None, "/admin/users", Some("r0")),
            ("GET", None, "/", None),
            ("GET", None, "/apiary", None),
            ("GET", Some("api.example.com"), "/shop/x", Some("r10")),
            ("GET", Some("www.example.com"), "/shop/x", Some("r9")),
        ];
        for (method, host, path, expected) in cases {
            let found = table.find(&method.parse().unwrap(), host, path);
            assert_eq!(
                found.map(|m| m.route.name.as_str()),
                expected,
                "{method} {host:?} {path}"
            );
        }
    }

    #[test]
    fn parameters_come_with_the_match() {
        let table = table();
        let found = table.find(&Method::GET, None, "/api/events/42").unwrap();
        assert_eq!(found.params.get("id"), Some("42"));
    }

    #[test]
    fn ties_keep_file_order() {
        let table = table();
        let positions: Vec<usize> = table
            .routes()
            .iter()
            .filter(|r| r.pattern.as_str() == "/api/events/{id}")
            .map(|r| r.position)
            .collect();
        assert_eq!(positions, vec![1, 8]);
    }
}
