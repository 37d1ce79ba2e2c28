//! The shape of `routes.toml` as operators write it.
//!
//! These types mirror the file and nothing more: every table denies unknown keys, and
//! every string that may name something else or read the environment keeps its
//! position in the file, so a later check can point at the exact line and column. The
//! server never runs on these types; [`super::model`] turns them into the model it does.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A string from the file with its position.
pub type Text = Spanned<String>;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    pub server: ServerSection,
    #[serde(default)]
    pub admin: Option<AdminSection>,
    #[serde(default)]
    pub stores: Option<Spanned<StoresSection>>,
    #[serde(default)]
    pub upstreams: BTreeMap<Text, Spanned<UpstreamSection>>,
    #[serde(default)]
    pub routes: Vec<Spanned<RouteSection>>,
}

/// `[server]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    pub listen: Option<Text>,
    pub default_upstream: Text,
    pub access_log: Option<Text>,
    pub trusted_proxies: Option<Vec<Text>>,
    pub tls: Option<Spanned<TlsSection>>,
    pub watch: Option<bool>,
}

/// `[server.tls]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    pub certificate: Text,
    pub key: Text,
}

/// `[admin]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    pub listen: Text,
}

/// `[stores]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoresSection {
    pub database_url: Option<Text>,
    pub redis_url: Option<Text>,
    pub connect_timeout: Option<Text>,
    pub command_timeout: Option<Text>,
    pub database_pool_size: Option<Spanned<u32>>,
}

/// `[upstreams.<name>]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSection {
    pub addresses: Vec<Text>,
    pub connect_timeout: Option<Text>,
    pub read_timeout: Option<Text>,
    pub write_timeout: Option<Text>,
    pub idle_timeout: Option<Text>,
    pub health_check_path: Option<Text>,
    pub health_check_interval: Option<Text>,
    pub health_check_timeout: Option<Text>,
    pub unhealthy_after: Option<Spanned<u32>>,
    pub healthy_after: Option<Spanned<u32>>,
}

/// `[[routes]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSection {
    pub name: Option<Text>,
    pub path: Text,
    pub methods: Option<Spanned<Vec<Text>>>,
    pub host: Option<Text>,
    pub handler: Option<Text>,
    pub upstream: Option<Text>,
    pub max_body: Option<Spanned<u64>>,
    pub rate_limit: Option<Spanned<RateLimitSection>>,
    pub connect_timeout: Option<Text>,
    pub read_timeout: Option<Text>,
    pub write_timeout: Option<Text>,
    pub total_timeout: Option<Text>,
    pub cache_ttl: Option<Text>,
    pub options: Option<Spanned<toml::Table>>,
}

/// `[routes.rate_limit]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSection {
    pub requests: u32,
    pub per: Text,
    pub burst: Option<u32>,
}
