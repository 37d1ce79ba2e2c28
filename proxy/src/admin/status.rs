//! What the admin listener says about reloads: the last attempt and its result.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use serde::Serialize;

use super::metrics::METRICS;

/// The outcome of the last reload.
#[derive(Debug, Clone, Serialize)]
pub struct LastReload {
    pub ok: bool,
    /// The error, exactly as logged, when the file was refused.
    pub error: Option<String>,
    /// Epoch seconds of the attempt.
    pub at: u64,
    /// Changed settings that only a restart applies (`server.listen`, ...).
    pub restart_needed: Vec<&'static str>,
}

/// Reload results, shared by the reloader and the admin listener.
pub struct ReloadStatus {
    routes_file: PathBuf,
    last: Mutex<Option<LastReload>>,
}

impl ReloadStatus {
    pub fn new(routes_file: PathBuf) -> Self {
        ReloadStatus {
            routes_file,
            last: Mutex::new(None),
        }
    }

    pub fn routes_file(&self) -> String {
        self.routes_file.display().to_string()
    }

    /// The last reload, if there was one.
    pub fn last(&self) -> Option<LastReload> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Records a reload and counts it.
    pub fn record(&self, error: Option<String>, restart_needed: Vec<&'static str>) {
        let ok = error.is_none();
        METRICS
            .reloads
            .with_label_values(&[if ok { "ok" } else { "error" }])
            .inc();
        METRICS.last_reload_ok.set(i64::from(ok));
        let at = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(LastReload {
            ok,
            error,
            at,
            restart_needed,
        });
    }
}
