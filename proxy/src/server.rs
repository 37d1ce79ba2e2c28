//! `switchyard run`: load everything, check it, and hand the listener to Pingora.
//!
//! Start-up fails fast, with one readable message, on anything an operator must fix:
//! a broken route file, unreadable server settings, or a database that lacks the
//! columns the native routes read. A database that cannot be reached at all is not
//! fatal: the edge still passes traffic through, and native routes answer `503` until
//! it is back.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use pingora::listeners::tls::TlsSettings;
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::Server;
use pingora::services::background::background_service;
use pingora::services::listening::Service as ListeningService;
use switchyard_handlers::schema::{self, SchemaError};
use switchyard_handlers::Registry;

use crate::admin::metrics::METRICS;
use crate::admin::{AdminApp, ReloadStatus};
use crate::cli::RunArgs;
use crate::config::{self, Config, ConfigError, TlsFiles};
use crate::edge::Edge;
use crate::reload::Reloader;
use crate::upstream::HealthChecker;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Routes(#[from] ConfigError),
    #[error("{}: {message}", path.display())]
    ServerSettings { path: PathBuf, message: String },
    #[error("{0}")]
    Schema(SchemaError),
    #[error("cannot set up TLS on the public listener: {0}")]
    Tls(String),
    #[error("cannot start the start-up runtime: {0}")]
    Runtime(std::io::Error),
}

/// Runs the edge until it is told to stop.
pub fn run(args: RunArgs) -> Result<(), StartError> {
    let registry = Registry::standard();
    let config = config::load(&args.routes, &registry)?;
    let listen = args.listen.unwrap_or(config.listen);
    verify_schema(&config, &registry)?;
    let conf = server_settings(&args)?;

    let opt = Opt {
        upgrade: args.upgrade,
        ..Opt::default()
    };
    let mut server = Server::new_with_opt_and_conf(opt, conf);
    server.bootstrap();

    let config_upstreams: Vec<_> = config.upstreams.values().cloned().collect();
    let admin_listen = config.admin_listen;
    METRICS.started.set(epoch_seconds());
    let tls = config.tls.clone();
    let active = Arc::new(ArcSwap::from_pointee(config));
    let mut service =
        pingora::proxy::http_proxy_service(&server.configuration, Edge::new(active.clone()));
    service.add_listener(public_listener(listen, tls.as_ref())?);
    server.add_service(service);

    let reloads = Arc::new(ReloadStatus::new(args.routes.clone()));
    if let Some(admin_listen) = admin_listen {
        let app = AdminApp::new(active.clone(), reloads.clone(), listen.port());
        let mut admin = ListeningService::new("admin".to_owned(), app);
        admin.add_tcp(&admin_listen.to_string());
        // Scrapes and probes are few; one thread keeps the cores for traffic.
        admin.threads = Some(1);
        server.add_service(admin);
        log::info!("admin listener (metrics, healthz, readyz, status) on {admin_listen}");
    }

    let reloader = Reloader::new(
        args.routes.clone(),
        active.clone(),
        listen,
        args.listen.is_some(),
        reloads,
    );
    let mut reload_service = background_service("route reload", reloader);
    // It only waits for a signal; a runtime of its own needs no more than one thread.
    reload_service.threads = Some(1);
    server.add_service(reload_service);

    let mut health_service =
        background_service("upstream health checks", HealthChecker::new(active));
    // Probes only wait on sockets; one thread is plenty and leaves the cores to traffic.
    health_service.threads = Some(1);
    server.add_service(health_service);

    for upstream in config_upstreams {
        log::info!("upstream {}: {:?}", upstream.name, upstream.addresses());
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    log::info!(
        "switchyard listening on {listen} ({scheme}) with routes from {}",
        args.routes.display()
    );
    server.run_forever()
}

/// Bytes read from a client socket at a time. The buffer is allocated and zeroed for
/// every connection when it is accepted, so Pingora's default (64 KiB) weighs on
/// memory at 10,000 open keep-alive connections; API requests fit in far less, and a
/// larger body only takes more reads. 16 KiB still takes a whole TLS record at once.
const CLIENT_READ_BUFFER: usize = 16 * 1024;

/// The public listener: plain TCP, or TLS when the route file names a certificate.
fn public_listener(
    listen: SocketAddr,
    tls: Option<&TlsFiles>,
) -> Result<ListenerConfig, StartError> {
    let mut listener = ListenerConfig::tcp(listen.to_string())
        .l4_buffer(L4BufferSettings::default().read(CLIENT_READ_BUFFER));
    if let Some(files) = tls {
        let settings = TlsSettings::intermediate(
            &files.certificate.to_string_lossy(),
            &files.key.to_string_lossy(),
        )
        .map_err(|e| StartError::Tls(e.to_string()))?;
        listener = listener.tls(settings);
    }
    Ok(listener)
}

fn epoch_seconds() -> f64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map_or(0.0, |d| d.as_secs_f64())
}

fn server_settings(args: &RunArgs) -> Result<ServerConf, StartError> {
    let settings_error = |message: String| StartError::ServerSettings {
        path: args.conf.clone(),
        message,
    };
    let text = std::fs::read_to_string(&args.conf)
        .map_err(|e| settings_error(format!("cannot read: {e}")))?;
    ServerConf::from_yaml(&text).map_err(|e| settings_error(e.to_string()))
}

/// Checks the shared database for the columns the native routes read.
fn verify_schema(config: &Config, registry: &Registry) -> Result<(), StartError> {
    let columns = config.required_columns(registry);
    if columns.is_empty() {
        return Ok(());
    }
    // Pingora builds its own runtimes later; this one only lives for the check.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(StartError::Runtime)?;
    let url = config.stores.settings().database_url.clone();
    let timeout = config.stores.settings().connect_timeout;
    let checked = runtime
        .block_on(async { tokio::time::timeout(timeout, schema::verify(&url, &columns)).await });

    match checked {
        Ok(Ok(())) => Ok(()),
        Ok(Err(SchemaError::Unreachable(why))) => {
            log::warn!("database schema not verified: cannot reach the database ({why}); native catalog routes answer 503 until it is back");
            Ok(())
        }
        Err(_) => {
            log::warn!("database schema not verified: no answer within {timeout:?}; native catalog routes answer 503 until it is back");
            Ok(())
        }
        Ok(Err(missing)) => Err(StartError::Schema(missing)),
    }
}
