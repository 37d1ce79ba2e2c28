//! Reloading the route file on `SIGHUP` without dropping a request.
//!
//! Pingora does not handle `SIGHUP` (by default it would kill the process), so this
//! background service claims it. A reload loads and checks the file exactly as start-up
//! does; a valid file replaces the active configuration atomically, and requests in
//! flight finish on the one they started with. A file that fails to load changes
//! nothing: the error is logged and the running table stays. With `server.watch`, a
//! change to the file's modification time or length reloads it too.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use switchyard_handlers::Registry;
use tokio::signal::unix::{signal, SignalKind};

use crate::admin::ReloadStatus;
use crate::check::summary;
use crate::config::{self, Config};

/// Watches for `SIGHUP` and reloads the route file.
pub struct Reloader {
    routes: PathBuf,
    active: Arc<ArcSwap<Config>>,
    /// The address actually bound; a file that changes it needs a restart.
    bound: SocketAddr,
    /// Whether `--listen` overrides the file's `server.listen`.
    listen_overridden: bool,
    /// Where the admin listener reads reload results from.
    status: Arc<ReloadStatus>,
}

impl Reloader {
    pub fn new(
        routes: PathBuf,
        active: Arc<ArcSwap<Config>>,
        bound: SocketAddr,
        listen_overridden: bool,
        status: Arc<ReloadStatus>,
    ) -> Self {
        Reloader {
            routes,
            active,
            bound,
            listen_overridden,
            status,
        }
    }

    fn reload(&self) {
        match config::load(&self.routes, &Registry::standard()) {
            Ok(config) => {
                let restart_needed = self.restart_needed(&config);
                for setting in &restart_needed {
                    log::warn!("{setting} changed: the new value takes effect after a restart");
                }
                log::info!(
                    "routes reloaded from {}: {}",
                    self.routes.display(),
                    summary(&config)
                );
                self.active.store(Arc::new(config));
                self.status.record(None, restart_needed);
            }
            Err(error) => {
                log::error!("routes not reloaded, the running table stays: {error}");
                self.status.record(Some(error.to_string()), Vec::new());
            }
        }
    }

    /// Settings of the new file that only a restart applies: listeners are bound once.
    fn restart_needed(&self, config: &Config) -> Vec<&'static str> {
        let running = self.active.load();
        let mut settings = Vec::new();
        if !self.listen_overridden && config.listen != self.bound {
            settings.push("server.listen");
        }
        if config.tls != running.tls {
            settings.push("server.tls");
        }
        if config.admin_listen != running.admin_listen {
            settings.push("admin.listen");
        }
        settings
    }
}

#[async_trait]
impl BackgroundService for Reloader {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(e) => {
                log::error!("cannot watch SIGHUP, reload is off: {e}");
                return;
            }
        };
        // From here on a SIGHUP reloads; one that came earlier would have been lost.
        log::info!("reloading {} on SIGHUP", self.routes.display());
        let mut ticks = tokio::time::interval(WATCH_INTERVAL);
        let mut seen = file_stamp(&self.routes);
        loop {
            tokio::select! {
                _ = hangups.recv() => self.reload(),
                _ = ticks.tick() => {
                    // With `server.watch`, a changed file reloads as a SIGHUP would.
                    let stamp = file_stamp(&self.routes);
                    if stamp != seen && self.active.load().watch {
                        self.reload();
                    }
                    seen = stamp;
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// How often a watched route file is looked at.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// What tells a changed file apart: its modification time and length. Editors that
/// replace the file (write and rename) change both.
fn file_stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}
