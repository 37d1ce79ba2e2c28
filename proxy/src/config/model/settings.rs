//! Building the server-wide parts of the model: access log, trusted proxies, TLS, the
//! stores and the upstreams.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use switchyard_handlers::{StoreSettings, Stores};
use toml::Spanned;

use super::super::file::{StoresSection, Text, TlsSection, UpstreamSection};
use super::{list, AccessLogFormat, Builder, TlsFiles};
use crate::upstream::{HealthCheck, Upstream, UpstreamTimeouts};

impl Builder<'_> {
    pub(super) fn access_log(&mut self, format: Option<&Text>) -> AccessLogFormat {
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
    pub(super) fn tls(&mut self, section: &Spanned<TlsSection>) -> Option<TlsFiles> {
        let spec = section.get_ref();
        let certificate = self.readable_file(&spec.certificate);
        let key = self.readable_file(&spec.key);
        Some(TlsFiles {
            certificate: certificate?,
            key: key?,
        })
    }

    pub(super) fn readable_file(&mut self, text: &Text) -> Option<PathBuf> {
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
    pub(super) fn trusted_proxies(&mut self, entries: Option<&[Text]>) -> Vec<IpNet> {
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

    pub(super) fn stores(
        &mut self,
        section: Option<&Spanned<StoresSection>>,
    ) -> Option<Arc<Stores>> {
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

    pub(super) fn upstreams(
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

    pub(super) fn upstream(
        &mut self,
        name: &Text,
        section: &Spanned<UpstreamSection>,
    ) -> Option<Upstream> {
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
    pub(super) fn health_check(&mut self, spec: &UpstreamSection) -> HealthCheck {
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
    pub(super) fn health_check_path(&mut self, text: &Text) -> Option<String> {
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
    pub(super) fn threshold(&mut self, count: Option<&Spanned<u32>>, default: u32) -> u32 {
        let Some(count) = count else { return default };
        if *count.get_ref() == 0 {
            self.diagnostics
                .report(count.span(), "a count of health checks must be at least 1");
            return default;
        }
        *count.get_ref()
    }

    pub(super) fn address(&mut self, text: &Text) -> Option<SocketAddr> {
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

    pub(super) fn upstream_named(
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
