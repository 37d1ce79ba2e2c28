//! Prometheus metrics: what the edge counts, and the text the admin listener serves.
//!
//! Request metrics are fed from one place, the request's outcome
//! (`edge::outcome`); store and queue gauges are read when Prometheus scrapes.

use once_cell::sync::Lazy;
use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

/// Every metric of the process, in one registry.
pub struct Metrics {
    registry: Registry,
    /// Requests by route, method, status class and who served them.
    pub requests: IntCounterVec,
    /// Request latency by route, from first byte read to response complete.
    pub duration: HistogramVec,
    /// Failed pass-through attempts by upstream and kind (`upstream_timeout`, ...).
    pub upstream_errors: IntCounterVec,
    /// 1 while the health check lets an upstream address take requests, 0 while it is
    /// down; by upstream and address.
    pub upstream_address_healthy: IntGaugeVec,
    /// Route file reloads by result (`ok` or `error`).
    pub reloads: IntCounterVec,
    /// 1 when the last reload succeeded (or none was tried), 0 when it failed.
    pub last_reload_ok: IntGauge,
    /// Requests being served now (a client connection between requests is not counted).
    pub requests_in_flight: IntGauge,
    /// Client connections open on the public listener, read at scrape time.
    pub open_connections: IntGauge,
    /// Micro-cache lookups by route and result (`hit`, `miss`, `coalesced`).
    pub cache_lookups: IntCounterVec,
    /// Gauges native handlers report at scrape time, by name.
    pub handler_gauges: GaugeVec,
    /// Start time of the process, for uptime.
    pub started: Gauge,
}

/// The process's metrics.
pub static METRICS: Lazy<Metrics> = Lazy::new(Metrics::new);

/// Latency buckets, in seconds: sub-millisecond native answers to slow legacy pages.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    fn new() -> Self {
        let registry =
            Registry::new_custom(Some("switchyard".into()), None).expect("a valid prefix");
        let metrics = Metrics {
            requests: IntCounterVec::new(
                Opts::new(
                    "requests_total",
                    "Requests by route, method, status class and served-by",
                ),
                &["route", "method", "status_class", "served_by"],
            )
            .expect("valid metric"),
            duration: HistogramVec::new(
                HistogramOpts::new("request_duration_seconds", "Request latency by route")
                    .buckets(BUCKETS.to_vec()),
                &["route"],
            )
            .expect("valid metric"),
            upstream_errors: IntCounterVec::new(
                Opts::new(
                    "upstream_errors_total",
                    "Failed pass-through requests by upstream and kind",
                ),
                &["upstream", "kind"],
            )
            .expect("valid metric"),
            upstream_address_healthy: IntGaugeVec::new(
                Opts::new(
                    "upstream_address_healthy",
                    "1 when the health check lets the upstream address take requests",
                ),
                &["upstream", "address"],
            )
            .expect("valid metric"),
            reloads: IntCounterVec::new(
                Opts::new("reloads_total", "Route file reloads by result"),
                &["result"],
            )
            .expect("valid metric"),
            last_reload_ok: IntGauge::new(
                "last_reload_success",
                "1 when the last route file reload succeeded",
            )
            .expect("valid metric"),
            requests_in_flight: IntGauge::new("requests_in_flight", "Requests being served now")
                .expect("valid metric"),
            cache_lookups: IntCounterVec::new(
                Opts::new(
                    "cache_lookups_total",
                    "Micro-cache lookups by route and result",
                ),
                &["route", "result"],
            )
            .expect("valid metric"),
            open_connections: IntGauge::new(
                "open_connections",
                "Client connections open on the public listener",
            )
            .expect("valid metric"),
            handler_gauges: GaugeVec::new(
                Opts::new("handler_gauge", "Gauges reported by native handlers"),
                &["name", "route", "subject"],
            )
            .expect("valid metric"),
            started: Gauge::new(
                "start_time_seconds",
                "Start time of the process, epoch seconds",
            )
            .expect("valid metric"),
            registry,
        };
        metrics.register_all();
        metrics.last_reload_ok.set(1);
        metrics
    }

    fn register_all(&self) {
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(self.requests.clone()),
            Box::new(self.duration.clone()),
            Box::new(self.upstream_errors.clone()),
            Box::new(self.upstream_address_healthy.clone()),
            Box::new(self.reloads.clone()),
            Box::new(self.last_reload_ok.clone()),
            Box::new(self.requests_in_flight.clone()),
            Box::new(self.open_connections.clone()),
            Box::new(self.cache_lookups.clone()),
            Box::new(self.handler_gauges.clone()),
            Box::new(self.started.clone()),
        ];
        for collector in collectors {
            // Names are fixed above and distinct, so registering cannot collide.
            self.registry
                .register(collector)
                .expect("distinct metric names");
        }
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> Vec<u8> {
        let mut text = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut text) {
            log::warn!("could not encode metrics: {e}");
        }
        text
    }
}

/// `2xx`, `4xx`, ...; `none` when no response was sent.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "none",
    }
}

/// Methods as metric labels; anything unusual is `OTHER`, so clients cannot grow the
/// label set at will.
pub fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN
        .iter()
        .find(|known| **known == method)
        .copied()
        .unwrap_or("OTHER")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_stay_bounded() {
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(0), "none");
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("BREW"), "OTHER");
    }

    #[test]
    fn metrics_render_as_prometheus_text() {
        METRICS
            .requests
            .with_label_values(&["r", "GET", "2xx", "native"])
            .inc();
        METRICS.duration.with_label_values(&["r"]).observe(0.002);
        let text = String::from_utf8(METRICS.render()).unwrap();
        assert!(text.contains("switchyard_requests_total{"), "{text}");
        assert!(text.contains("# TYPE switchyard_request_duration_seconds histogram"));
    }
}
