//! The admin listener: `/metrics` for Prometheus, `/healthz` and `/readyz` for load
//! balancers, `/status` for operators. It listens on its own address (loopback by
//! default) so none of it is reachable from the public listener.

mod connections;
pub mod metrics;
mod readiness;
mod status;

pub use status::ReloadStatus;

use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use http::{header, Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde_json::json;

use crate::config::Config;
use crate::routing::Target;
use metrics::METRICS;

/// The admin endpoints.
pub struct AdminApp {
    active: Arc<ArcSwap<Config>>,
    reloads: Arc<ReloadStatus>,
    /// Port of the public listener, whose connections are counted.
    public_port: u16,
}

impl AdminApp {
    pub fn new(active: Arc<ArcSwap<Config>>, reloads: Arc<ReloadStatus>, public_port: u16) -> Self {
        AdminApp {
            active,
            reloads,
            public_port,
        }
    }

    async fn metrics(&self) -> Response<Vec<u8>> {
        self.refresh_handler_gauges().await;
        if let Some(open) = connections::open_on(self.public_port) {
            METRICS.open_connections.set(open as i64);
        }
        reply(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            METRICS.render(),
        )
    }

    /// Asks every native route for its scrape-time gauges (queue depth, ...).
    async fn refresh_handler_gauges(&self) {
        let config = self.active.load_full();
        METRICS.handler_gauges.reset();
        for route in config.table.routes() {
            let Target::Native { instance, .. } = &route.target else {
                continue;
            };
            for gauge in instance.gauges().await {
                METRICS
                    .handler_gauges
                    .with_label_values(&[gauge.name, route.name.as_str(), gauge.subject.as_str()])
                    .set(gauge.value);
            }
        }
    }

    async fn readyz(&self) -> Response<Vec<u8>> {
        let config = self.active.load_full();
        let checks = readiness::check(&config).await;
        let ready = checks.iter().all(|check| check.ok);
        let status = if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        let body = json!({ "ready": ready, "checks": checks });
        reply(status, "application/json", body.to_string().into_bytes())
    }

    fn status(&self) -> Response<Vec<u8>> {
        let config = self.active.load_full();
        let body = json!({
            "routes_file": self.reloads.routes_file(),
            "routes": config.table.routes().len(),
            "summary": crate::check::summary(&config),
            "last_reload": self.reloads.last(),
        });
        reply(
            StatusCode::OK,
            "application/json",
            body.to_string().into_bytes(),
        )
    }
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let path = session.req_header().uri.path().to_owned();
        match path.as_str() {
            "/metrics" => self.metrics().await,
            "/healthz" => reply(
                StatusCode::OK,
                "application/json",
                br#"{"status":"ok"}"#.to_vec(),
            ),
            "/readyz" => self.readyz().await,
            "/status" => self.status(),
            _ => {
                let body = json!({ "error": "not_found", "message": "try /metrics, /healthz, /readyz or /status" });
                reply(
                    StatusCode::NOT_FOUND,
                    "application/json",
                    body.to_string().into_bytes(),
                )
            }
        }
    }
}

fn reply(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}
