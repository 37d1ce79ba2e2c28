//! The model the server runs on, built from a parsed route file.
//!
//! Building checks everything that can be checked without the network: environment
//! variables, upstream addresses, durations, handler names and options, path and host
//! patterns, methods, and routes that duplicate each other. Store URLs are checked for
//! form only; connections open on first use.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use switchyard_handlers::schema::Column;
use switchyard_handlers::{Registry, Stores};

use super::env;
use super::error::{ConfigError, Diagnostics};
use super::file::{RouteFile, Text};
use crate::routing::{RouteTable, Target};
use crate::upstream::Upstream;

mod routes;
mod settings;

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
    let admin_listen = file.admin.as_ref().and_then(|admin| {
        let address = builder.listen(Some(&admin.listen))?;
        if Some(address) == listen {
            let message =
                "admin.listen must differ from server.listen: metrics stay off the public port";
            builder.diagnostics.report(admin.listen.span(), message);
        }
        Some(address)
    });
    let routes = match &stores {
        Some(stores) => builder.routes(&file.routes, &upstreams, stores),
        None => Vec::new(),
    };
    builder.diagnostics.finish()?;

    // Every step above reported a diagnostic whenever it returned None.
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

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
