//! Building routes: patterns, hosts, methods, targets, handler options, limits, and
//! the checks between routes (duplicates, names).

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use switchyard_handlers::Stores;
use toml::Spanned;

use super::super::env;
use super::super::file::{RateLimitSection, RouteSection, Text};
use super::{list, Builder, DEFAULT_PASS_THROUGH_MAX_BODY};
use crate::cache::MicroCache;
use crate::limits::RateLimit;

/// Longest `cache_ttl`: past a minute, stale answers would surprise more than help.
const MAX_CACHE_TTL: Duration = Duration::from_secs(60);
use crate::routing::{HostPattern, PathPattern, Route, RouteTimeouts, Target};
use crate::upstream::Upstream;

impl Builder<'_> {
    pub(super) fn routes(
        &mut self,
        sections: &[Spanned<RouteSection>],
        upstreams: &BTreeMap<String, Arc<Upstream>>,
        stores: &Arc<Stores>,
    ) -> Vec<Route> {
        let mut built: Vec<(Route, Range<usize>)> = Vec::new();
        for (position, section) in sections.iter().enumerate() {
            let Some(route) = self.route(position, section.get_ref(), upstreams, stores) else {
                continue;
            };
            self.check_duplicate(&route, section.get_ref().path.span(), &built);
            if let Some(name) = &section.get_ref().name {
                self.check_unique_name(&route, name, &built);
            }
            built.push((route, section.get_ref().path.span()));
        }
        built.into_iter().map(|(route, _)| route).collect()
    }

    pub(super) fn route(
        &mut self,
        position: usize,
        spec: &RouteSection,
        upstreams: &BTreeMap<String, Arc<Upstream>>,
        stores: &Arc<Stores>,
    ) -> Option<Route> {
        let pattern = self.pattern(&spec.path);
        let host = spec.host.as_ref().and_then(|h| self.host(h));
        let methods = match &spec.methods {
            Some(methods) => self.methods(methods).map(Some),
            None => Some(None),
        };
        let target = self.target(spec, upstreams, stores);
        let name = match &spec.name {
            Some(name) => self.text(name)?,
            None => spec.path.get_ref().clone(),
        };

        let (pattern, target) = (pattern?, target?);
        self.check_params(spec, &pattern, &target)?;
        let methods = self.methods_for_target(spec, methods?, &target)?;
        let max_body = match (&spec.max_body, &target) {
            (Some(limit), _) => Some(*limit.get_ref()),
            (None, Target::Upstream(_)) => Some(DEFAULT_PASS_THROUGH_MAX_BODY),
            (None, Target::Native { .. }) => None,
        };
        let rate_limit = match &spec.rate_limit {
            Some(section) => Some(Arc::new(self.rate_limit(section)?)),
            None => None,
        };
        let timeouts = self.route_timeouts(spec, &target)?;
        let cache = self.cache(spec, &target)?;
        Some(Route {
            name,
            pattern,
            methods,
            host,
            target,
            position,
            max_body,
            rate_limit,
            timeouts,
            cache,
        })
    }

    /// The micro-cache of a native route, when it sets `cache_ttl`.
    pub(super) fn cache(
        &mut self,
        spec: &RouteSection,
        target: &Target,
    ) -> Option<Option<Arc<MicroCache>>> {
        let Some(text) = &spec.cache_ttl else {
            return Some(None);
        };
        if matches!(target, Target::Upstream(_)) {
            self.diagnostics.report(
                text.span(),
                "cache_ttl is for native routes; the upstream keeps its own caching",
            );
            return None;
        }
        let ttl = self.duration(Some(text), Duration::from_secs(1));
        if ttl > MAX_CACHE_TTL {
            let message = format!(
                "cache_ttl is a micro-cache: at most {}s",
                MAX_CACHE_TTL.as_secs()
            );
            self.diagnostics.report(text.span(), message);
            return None;
        }
        Some(Some(Arc::new(MicroCache::new(ttl))))
    }

    /// A route's own upstream timeouts; a native route has no upstream to time.
    pub(super) fn route_timeouts(
        &mut self,
        spec: &RouteSection,
        target: &Target,
    ) -> Option<RouteTimeouts> {
        let given = [
            &spec.connect_timeout,
            &spec.read_timeout,
            &spec.write_timeout,
        ];
        if let (Target::Native { .. }, Some(first)) =
            (target, given.iter().find_map(|t| t.as_ref()))
        {
            let message = "timeouts are for pass-through routes; a native route has no upstream";
            self.diagnostics.report(first.span(), message);
            return None;
        }
        let mut read = |text: &Option<Text>| {
            text.as_ref()
                .map(|t| self.duration(Some(t), Duration::ZERO))
        };
        Some(RouteTimeouts {
            connect: read(&spec.connect_timeout),
            read: read(&spec.read_timeout),
            write: read(&spec.write_timeout),
            total: read(&spec.total_timeout),
        })
    }

    pub(super) fn rate_limit(&mut self, section: &Spanned<RateLimitSection>) -> Option<RateLimit> {
        let spec = section.get_ref();
        let per = self.duration(Some(&spec.per), Duration::from_secs(1));
        let requests = NonZeroU32::new(spec.requests);
        let burst = NonZeroU32::new(spec.burst.unwrap_or(spec.requests));
        let limit = match (requests, burst) {
            (Some(requests), Some(burst)) => RateLimit::new(requests, per, burst),
            _ => None,
        };
        if limit.is_none() {
            let message = "rate_limit needs requests and burst of at least 1, and `per` long enough for one request";
            self.diagnostics.report(section.span(), message);
        }
        limit
    }

    pub(super) fn pattern(&mut self, path: &Text) -> Option<PathPattern> {
        let value = self.text(path)?;
        PathPattern::parse(&value)
            .map_err(|message| self.diagnostics.report(path.span(), message))
            .ok()
    }

    pub(super) fn host(&mut self, host: &Text) -> Option<HostPattern> {
        let value = self.text(host)?;
        HostPattern::parse(&value)
            .map_err(|message| self.diagnostics.report(host.span(), message))
            .ok()
    }

    pub(super) fn methods(&mut self, methods: &Spanned<Vec<Text>>) -> Option<Vec<Method>> {
        if methods.get_ref().is_empty() {
            self.diagnostics.report(
                methods.span(),
                "methods must list at least one method; leave it out to take every method",
            );
            return None;
        }
        let mut parsed = Vec::new();
        for text in methods.get_ref() {
            let value = self.text(text).unwrap_or_default().to_ascii_uppercase();
            match Method::from_bytes(value.as_bytes()) {
                Ok(method) if !value.is_empty() => parsed.push(method),
                _ => self
                    .diagnostics
                    .report(text.span(), format!("invalid method {value:?}")),
            }
        }
        Some(parsed)
    }

    /// A native handler that reads `{id}` needs a route that captures `{id}`.
    pub(super) fn check_params(
        &mut self,
        spec: &RouteSection,
        pattern: &PathPattern,
        target: &Target,
    ) -> Option<()> {
        let Target::Native { handler, .. } = target else {
            return Some(());
        };
        let needed = self
            .registry
            .get(handler)
            .map_or(&[][..], |entry| entry.params);
        let captured: Vec<&str> = pattern.params().collect();
        let missing: Vec<String> = needed
            .iter()
            .filter(|name| !captured.contains(name))
            .map(|name| format!("{{{name}}}"))
            .collect();
        if missing.is_empty() {
            return Some(());
        }
        let message = format!(
            "handler `{handler}` reads {} from the path; the pattern must capture it",
            missing.join(", ")
        );
        self.diagnostics.report(spec.path.span(), message);
        None
    }
}

impl Builder<'_> {
    pub(super) fn target(
        &mut self,
        spec: &RouteSection,
        upstreams: &BTreeMap<String, Arc<Upstream>>,
        stores: &Arc<Stores>,
    ) -> Option<Target> {
        match (&spec.handler, &spec.upstream) {
            (Some(handler), None) => self.native(handler, spec, stores),
            (None, Some(upstream)) => {
                if let Some(options) = &spec.options {
                    self.diagnostics.report(
                        options.span(),
                        "options are for native handlers; this route has an upstream",
                    );
                }
                self.upstream_named(upstream, upstreams)
                    .map(Target::Upstream)
            }
            (Some(_), Some(upstream)) => {
                self.diagnostics.report(
                    upstream.span(),
                    "a route has either `handler` or `upstream`, not both",
                );
                None
            }
            (None, None) => {
                self.diagnostics.report(
                    spec.path.span(),
                    "a route needs `handler = \"...\"` or `upstream = \"...\"`",
                );
                None
            }
        }
    }

    pub(super) fn native(
        &mut self,
        handler: &Text,
        spec: &RouteSection,
        stores: &Arc<Stores>,
    ) -> Option<Target> {
        let name = self.text(handler)?;
        let Some(entry) = self.registry.get(&name) else {
            let known: Vec<&str> = self.registry.names().collect();
            let message = format!("unknown handler `{name}` (known: {})", list(&known));
            self.diagnostics.report(handler.span(), message);
            return None;
        };

        let (options, span) = match &spec.options {
            Some(options) => (
                self.expand_table(options.get_ref(), options.span())?,
                options.span(),
            ),
            None => (toml::Table::new(), handler.span()),
        };
        match (entry.build)(&options, stores) {
            Ok(instance) => Some(Target::Native {
                handler: name,
                instance,
            }),
            Err(e) => {
                self.diagnostics
                    .report(span, format!("options of `{name}`: {e}"));
                None
            }
        }
    }

    /// Reads the environment into every string of a handler's options.
    pub(super) fn expand_table(
        &mut self,
        table: &toml::Table,
        span: Range<usize>,
    ) -> Option<toml::Table> {
        let mut expanded = toml::Table::new();
        for (key, value) in table {
            let value = match value {
                toml::Value::String(text) => match env::expand(text) {
                    Ok(text) => toml::Value::String(text),
                    Err(e) => {
                        self.diagnostics
                            .report(span.clone(), format!("options.{key}: {e}"));
                        return None;
                    }
                },
                toml::Value::Table(inner) => {
                    toml::Value::Table(self.expand_table(inner, span.clone())?)
                }
                other => other.clone(),
            };
            expanded.insert(key.clone(), value);
        }
        Some(expanded)
    }

    /// A native route takes only methods its handler answers; without a list, exactly those.
    pub(super) fn methods_for_target(
        &mut self,
        spec: &RouteSection,
        methods: Option<Vec<Method>>,
        target: &Target,
    ) -> Option<Option<Vec<Method>>> {
        let Target::Native { handler, instance } = target else {
            return Some(methods);
        };
        let answers = instance.methods();
        let Some(methods) = methods else {
            return Some(Some(answers.to_vec()));
        };
        let refused: Vec<&str> = methods
            .iter()
            .filter(|m| !answers.contains(m))
            .map(Method::as_str)
            .collect();
        if refused.is_empty() {
            return Some(Some(methods));
        }
        let offered: Vec<&str> = answers.iter().map(Method::as_str).collect();
        let span = spec
            .methods
            .as_ref()
            .and_then(|m| m.get_ref().first())
            .map_or(spec.path.span(), |m| m.span());
        let message = format!(
            "handler `{handler}` answers {}; it cannot take {}",
            list(&offered),
            list(&refused)
        );
        self.diagnostics.report(span, message);
        None
    }

    pub(super) fn check_duplicate(
        &mut self,
        route: &Route,
        span: Range<usize>,
        earlier: &[(Route, Range<usize>)],
    ) {
        let overlaps = |a: &Option<Vec<Method>>, b: &Option<Vec<Method>>| match (a, b) {
            (Some(a), Some(b)) => a.iter().any(|m| b.contains(m)),
            _ => true,
        };
        for (other, other_span) in earlier {
            let same = route.pattern.same_shape(&other.pattern)
                && route.host == other.host
                && overlaps(&route.methods, &other.methods);
            if same {
                let first = crate::config::Location::at(
                    Path::new(""),
                    self.diagnostics_source(),
                    other_span.start,
                );
                let message = format!(
                    "duplicate route: `{}` takes the same requests as the route at line {}",
                    route.pattern.as_str(),
                    first.line
                );
                self.diagnostics.report(span, message);
                return;
            }
        }
    }

    /// Names are how logs and metrics tell routes apart: two routes may not share one.
    pub(super) fn check_unique_name(
        &mut self,
        route: &Route,
        name: &Text,
        earlier: &[(Route, Range<usize>)],
    ) {
        if earlier.iter().any(|(other, _)| other.name == route.name) {
            let message = format!(
                "route name `{}` is already used by an earlier route",
                route.name
            );
            self.diagnostics.report(name.span(), message);
        }
    }

    pub(super) fn diagnostics_source(&self) -> &str {
        self.diagnostics.source()
    }
}
