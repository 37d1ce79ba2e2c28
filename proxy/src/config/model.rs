//! The model the server runs on, built from a parsed route file.
//!
//! Building checks everything that can be checked without the network: environment
//! variables, upstream addresses, durations, handler names and options, path and host
//! patterns, methods, and routes that duplicate each other. Store URLs are checked for
//! form only; connections open on first use.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::num::NonZeroU32;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use ipnet::IpNet;
use switchyard_handlers::schema::Column;
use switchyard_handlers::{Registry, StoreSettings, Stores};
use toml::Spanned;

use super::env;
use super::error::{ConfigError, Diagnostics};
use super::file::{
    RateLimitSection, RouteFile, RouteSection, StoresSection, Text, TlsSection, UpstreamSection,
};
use crate::limits::RateLimit;
use crate::routing::{HostPattern, PathPattern, Route, RouteTable, RouteTimeouts, Target};
use crate::upstream::{HealthCheck, Upstream, UpstreamTimeouts};

/// Address the public listener binds when the file names none.
const DEFAULT_LISTEN: &str = "0.0.0.0:8080";

/// Largest request body a pass-through route takes unless it says otherwise: ample for
/// an API, small enough that a client cannot tie up the upstream with an endless one.
pub const DEFAULT_PASS_THROUGH_MAX_BODY: u64 = 10 * 1024 * 1024;

/// PEM files for TLS on the public listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

/// How the access log is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessLogFormat {
    /// `key=value` fields on one line.
    Plain,
    /// One JSON object per line.
    Json,
}

/// A loaded, checked route file.
pub struct Config {
    /// Address of the public listener.
    pub listen: SocketAddr,
    /// Address of the admin listener (metrics, health); none when not configured.
    pub admin_listen: Option<SocketAddr>,
    pub access_log: AccessLogFormat,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Certificate and key of the public listener; plain HTTP when `None`.
    pub tls: Option<TlsFiles>,
    /// Reload when the route file changes, not only on `SIGHUP`.
    pub watch: bool,
    pub stores: Arc<Stores>,
    pub upstreams: BTreeMap<String, Arc<Upstream>>,
    /// Takes every request no route takes.
    pub default_upstream: Arc<Upstream>,
    pub table: RouteTable,
}

impl Config {
    /// Database columns that the configured native handlers read.
    pub fn required_columns(&self, registry: &Registry) -> Vec<Column> {
        let mut columns: Vec<Column> = self
            .table
            .routes()
            .iter()
            .filter_map(|route| match &route.target {
                Target::Native { handler, .. } => registry.get(handler),
                Target::Upstream(_) => None,
            })
            .flat_map(|entry| entry.columns.iter().copied())
            .collect();
        columns.sort();
        columns.dedup();
        columns
    }

    /// Names of the distinct native handlers in use.
    pub fn handler_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .table
            .routes()
            .iter()
            .filter_map(|route| match &route.target {
                Target::Native { handler, .. } => Some(handler.as_str()),
                Target::Upstream(_) => None,
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// Checks `file` and builds the model, reporting every problem found.
pub(super) fn build(
    path: &Path,
    source: &str,
    file: RouteFile,
    registry: &Registry,
) -> Result<Config, ConfigError> {
    let mut builder = Builder {
        diagnostics: Diagnostics::new(path, source),
        registry,
        declared_upstreams: file
            .upstreams
            .keys()
            .map(|name| name.get_ref().clone())
            .collect(),
    };
    let stores = builder.stores(file.stores.as_ref());
    let upstreams = builder.upstreams(&file.upstreams);
    let default_upstream = builder.upstream_named(&file.server.default_upstream, &upstreams);
    let listen = builder.listen(file.server.listen.as_ref());
    let access_log = builder.access_log(file.server.access_log.as_ref());
    let trusted_proxies = builder.trusted_proxies(file.server.trusted_proxies.as_deref());
    let tls = file.server.tls.as_ref().and_then(|tls| builder.tls(tls));
    let admin_listen = file
        .admin
        .as_ref()
        .map(|admin| builder.listen(Some(&admin.listen)));
    let routes = match &stores {
        Some(stores) => builder.routes(&file.routes, &upstreams, stores),
        None => Vec::new(),
    };
    builder.diagnostics.finish()?;

    // Every step above reported a diagnostic whenever it returned None.
    let admin_listen = admin_listen.flatten();
    let (Some(stores), Some(default_upstream), Some(listen)) = (stores, default_upstream, listen)
    else {
        unreachable!("a missing part was reported as a diagnostic");
    };
    Ok(Config {
        listen,
        admin_listen,
        access_log,
        trusted_proxies,
        tls,
        watch: file.server.watch.unwrap_or(false),
        stores,
        upstreams,
        default_upstream,
        table: RouteTable::new(routes),
    })
}

struct Builder<'a> {
    diagnostics: Diagnostics<'a>,
    registry: &'a Registry,
    /// Upstreams the file declares, including broken ones (already reported), so a
    /// reference to a broken upstream is not reported again as unknown.
    declared_upstreams: Vec<String>,
}

impl Builder<'_> {
    /// The value of a string, with the environment read in.
    fn text(&mut self, text: &Text) -> Option<String> {
        match env::expand(text.get_ref()) {
            Ok(value) => Some(value),
            Err(e) => {
                self.diagnostics.report(text.span(), e.to_string());
                None
            }
        }
    }

    fn duration(&mut self, text: Option<&Text>, default: Duration) -> Duration {
        let Some(text) = text else { return default };
        let value = self.text(text).unwrap_or_default();
        match humantime::parse_duration(&value) {
            Ok(duration) if !duration.is_zero() => duration,
            Ok(_) => {
                self.diagnostics
                    .report(text.span(), "a duration must be longer than zero");
                default
            }
            Err(e) => {
                let message =
                    format!("invalid duration {value:?} ({e}); write e.g. \"250ms\" or \"2s\"");
                self.diagnostics.report(text.span(), message);
                default
            }
        }
    }

    fn listen(&mut self, listen: Option<&Text>) -> Option<SocketAddr> {
        let Some(text) = listen else {
            return DEFAULT_LISTEN.parse().ok();
        };
        let value = self.text(text)?;
        match value.parse() {
            Ok(address) => Some(address),
            Err(_) => {
                let message = format!(
                    "listen address {value:?} must be an IP address and port, e.g. 0.0.0.0:8080"
                );
                self.diagnostics.report(text.span(), message);
                None
            }
        }
    }
}

impl Builder<'_> {
    fn access_log(&mut self, format: Option<&Text>) -> AccessLogFormat {
        let Some(text) = format else {
            return AccessLogFormat::Plain;
        };
        match self.text(text).as_deref() {
            Some("plain") => AccessLogFormat::Plain,
            Some("json") => AccessLogFormat::Json,
            Some(other) => {
                let message = format!("access_log must be \"plain\" or \"json\", not {other:?}");
                self.diagnostics.report(text.span(), message);
                AccessLogFormat::Plain
            }
            None => AccessLogFormat::Plain,
        }
    }

    /// Certificate and key files, which must be readable now: a typo found at check
    /// time beats a listener that fails at start.
    fn tls(&mut self, section: &Spanned<TlsSection>) -> Option<TlsFiles> {
        let spec = section.get_ref();
        let certificate = self.readable_file(&spec.certificate);
        let key = self.readable_file(&spec.key);
        Some(TlsFiles {
            certificate: certificate?,
            key: key?,
        })
    }

    fn readable_file(&mut self, text: &Text) -> Option<PathBuf> {
        let path = PathBuf::from(self.text(text)?);
        match std::fs::File::open(&path) {
            Ok(_) => Some(path),
            Err(e) => {
                self.diagnostics
                    .report(text.span(), format!("cannot read {}: {e}", path.display()));
                None
            }
        }
    }

    /// Addresses or networks (`10.0.0.0/8`, `127.0.0.1`) of proxies in front of the edge.
    fn trusted_proxies(&mut self, entries: Option<&[Text]>) -> Vec<IpNet> {
        let mut networks = Vec::new();
        for text in entries.unwrap_or_default() {
            let Some(value) = self.text(text) else {
                continue;
            };
            let parsed = value
                .parse::<IpNet>()
                .or_else(|_| value.parse::<IpAddr>().map(IpNet::from));
            match parsed {
                Ok(network) => networks.push(network),
                Err(_) => {
                    let message = format!("trusted proxy {value:?} must be an address or a network such as 10.0.0.0/8");
                    self.diagnostics.report(text.span(), message);
                }
            }
        }
        networks
    }

    fn stores(&mut self, section: Option<&Spanned<StoresSection>>) -> Option<Arc<Stores>> {
        let empty = StoresSection::default();
        let (section, span) = match section {
            Some(spanned) => (spanned.get_ref(), spanned.span()),
            None => (&empty, 0..0),
        };
        let text = |b: &mut Self, value: Option<&Text>, default: &str| match value {
            Some(text) => b.text(text).unwrap_or_default(),
            None => default.to_owned(),
        };
        let settings = StoreSettings {
            database_url: text(
                self,
                section.database_url.as_ref(),
                "postgres://switchyard_edge@127.0.0.1:5432/switchyard",
            ),
            redis_url: text(self, section.redis_url.as_ref(), "redis://127.0.0.1:6379/0"),
            connect_timeout: self
                .duration(section.connect_timeout.as_ref(), Duration::from_secs(2)),
            command_timeout: self
                .duration(section.command_timeout.as_ref(), Duration::from_secs(5)),
            database_pool_size: section
                .database_pool_size
                .as_ref()
                .map_or(16, |n| *n.get_ref()),
        };
        if settings.database_pool_size == 0 {
            self.diagnostics
                .report(span.clone(), "database_pool_size must be at least 1");
        }
        match Stores::new(settings) {
            Ok(stores) => Some(Arc::new(stores)),
            Err(message) => {
                self.diagnostics.report(span, message);
                None
            }
        }
    }

    fn upstreams(
        &mut self,
        sections: &BTreeMap<Text, Spanned<UpstreamSection>>,
    ) -> BTreeMap<String, Arc<Upstream>> {
        let mut upstreams = BTreeMap::new();
        for (name, section) in sections {
            if let Some(upstream) = self.upstream(name, section) {
                upstreams.insert(name.get_ref().clone(), Arc::new(upstream));
            }
        }
        upstreams
    }

    fn upstream(&mut self, name: &Text, section: &Spanned<UpstreamSection>) -> Option<Upstream> {
        let spec = section.get_ref();
        let defaults = UpstreamTimeouts::default();
        let timeouts = UpstreamTimeouts {
            connect: self.duration(spec.connect_timeout.as_ref(), defaults.connect),
            read: self.duration(spec.read_timeout.as_ref(), defaults.read),
            write: self.duration(spec.write_timeout.as_ref(), defaults.write),
            idle: self.duration(spec.idle_timeout.as_ref(), defaults.idle),
        };

        let addresses: Vec<SocketAddr> = spec
            .addresses
            .iter()
            .filter_map(|a| self.address(a))
            .collect();
        if spec.addresses.is_empty() {
            let message = format!("upstream `{}` needs at least one address", name.get_ref());
            self.diagnostics.report(section.span(), message);
        }
        let health_check = self.health_check(spec);
        if addresses.is_empty() {
            return None;
        }
        let upstream = Upstream::new(name.get_ref().clone(), addresses, timeouts);
        Some(upstream.with_health_check(health_check))
    }

    /// The `health_check_*`, `unhealthy_after` and `healthy_after` keys.
    fn health_check(&mut self, spec: &UpstreamSection) -> HealthCheck {
        let defaults = HealthCheck::default();
        HealthCheck {
            path: spec
                .health_check_path
                .as_ref()
                .and_then(|path| self.health_check_path(path)),
            interval: self.duration(spec.health_check_interval.as_ref(), defaults.interval),
            timeout: self.duration(spec.health_check_timeout.as_ref(), defaults.timeout),
            unhealthy_after: self
                .threshold(spec.unhealthy_after.as_ref(), defaults.unhealthy_after),
            healthy_after: self.threshold(spec.healthy_after.as_ref(), defaults.healthy_after),
        }
    }

    /// The path goes into a request line as written, so it must be one token.
    fn health_check_path(&mut self, text: &Text) -> Option<String> {
        let value = self.text(text)?;
        if value.starts_with('/') && value.bytes().all(|b| b.is_ascii_graphic()) {
            return Some(value);
        }
        let message = format!(
            "health_check_path {value:?} must start with / and have no spaces, e.g. \"/up\""
        );
        self.diagnostics.report(text.span(), message);
        None
    }

    /// A count of consecutive probes; zero would make the state flip on nothing.
    fn threshold(&mut self, count: Option<&Spanned<u32>>, default: u32) -> u32 {
        let Some(count) = count else { return default };
        if *count.get_ref() == 0 {
            self.diagnostics
                .report(count.span(), "a count of health checks must be at least 1");
            return default;
        }
        *count.get_ref()
    }

    fn address(&mut self, text: &Text) -> Option<SocketAddr> {
        let value = self.text(text)?;
        let resolved = value.to_socket_addrs().map(|mut all| all.next());
        match resolved {
            Ok(Some(address)) => Some(address),
            Ok(None) | Err(_) => {
                let message = format!(
                    "upstream address {value:?} must be host:port and resolve, e.g. 127.0.0.1:3000"
                );
                self.diagnostics.report(text.span(), message);
                None
            }
        }
    }

    fn upstream_named(
        &mut self,
        name: &Text,
        upstreams: &BTreeMap<String, Arc<Upstream>>,
    ) -> Option<Arc<Upstream>> {
        if let Some(upstream) = upstreams.get(name.get_ref()) {
            return Some(upstream.clone());
        }
        if self.declared_upstreams.contains(name.get_ref()) {
            return None;
        }
        let known: Vec<&str> = self.declared_upstreams.iter().map(String::as_str).collect();
        let message = format!(
            "unknown upstream `{}` (defined: {})",
            name.get_ref(),
            list(&known)
        );
        self.diagnostics.report(name.span(), message);
        None
    }
}

impl Builder<'_> {
    fn routes(
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

    fn route(
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
        })
    }

    /// A route's own upstream timeouts; a native route has no upstream to time.
    fn route_timeouts(&mut self, spec: &RouteSection, target: &Target) -> Option<RouteTimeouts> {
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

    fn rate_limit(&mut self, section: &Spanned<RateLimitSection>) -> Option<RateLimit> {
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

    fn pattern(&mut self, path: &Text) -> Option<PathPattern> {
        let value = self.text(path)?;
        PathPattern::parse(&value)
            .map_err(|message| self.diagnostics.report(path.span(), message))
            .ok()
    }

    fn host(&mut self, host: &Text) -> Option<HostPattern> {
        let value = self.text(host)?;
        HostPattern::parse(&value)
            .map_err(|message| self.diagnostics.report(host.span(), message))
            .ok()
    }

    fn methods(&mut self, methods: &Spanned<Vec<Text>>) -> Option<Vec<Method>> {
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
    fn check_params(
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
    fn target(
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

    fn native(
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
    fn expand_table(&mut self, table: &toml::Table, span: Range<usize>) -> Option<toml::Table> {
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
    fn methods_for_target(
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

    fn check_duplicate(
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
                let first =
                    super::Location::at(Path::new(""), self.diagnostics_source(), other_span.start);
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
    fn check_unique_name(&mut self, route: &Route, name: &Text, earlier: &[(Route, Range<usize>)]) {
        if earlier.iter().any(|(other, _)| other.name == route.name) {
            let message = format!(
                "route name `{}` is already used by an earlier route",
                route.name
            );
            self.diagnostics.report(name.span(), message);
        }
    }

    fn diagnostics_source(&self) -> &str {
        self.diagnostics.source()
    }
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
