//! The active health check: a background service that probes every address of every
//! upstream of the active configuration and marks each up or down.
//!
//! Each address gets its own probe task, so a slow address never delays another. A
//! probe is a TCP connect, or, with `health_check_path`, a `GET` of that path that
//! must answer `2xx` or `3xx`, all within `health_check_timeout`. The thresholds are
//! applied by [`super::health::HealthTracker`]; a change is logged once (warn when an
//! address goes down, info when it is back) and shown by the
//! `switchyard_upstream_address_healthy` gauge.
//!
//! A reload swaps in new `Upstream` values: the service notices, stops the old tasks,
//! starts new ones, and carries the health of addresses the two files share, so an
//! address that is down stays out of rotation across a reload.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::{timeout, MissedTickBehavior};

use super::health::{Change, HealthCheck, HealthTracker};
use super::Upstream;
use crate::admin::metrics::METRICS;
use crate::config::Config;

/// How often the service looks for a reloaded configuration. Comparing two pointers
/// is all it costs.
const RELOAD_POLL: Duration = Duration::from_millis(200);

/// The upstreams of one configuration, by name.
type Upstreams = BTreeMap<String, Arc<Upstream>>;

/// Longest status line read from a probed app; the rest of its answer is ignored.
const MAX_STATUS_LINE: usize = 1024;

/// The background service. Register it with one thread: it only waits on sockets.
pub struct HealthChecker {
    active: Arc<ArcSwap<Config>>,
}

impl HealthChecker {
    pub fn new(active: Arc<ArcSwap<Config>>) -> Self {
        HealthChecker { active }
    }
}

#[async_trait]
impl BackgroundService for HealthChecker {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut probes = Probes::default();
        loop {
            probes.follow(self.active.load_full());
            tokio::select! {
                _ = tokio::time::sleep(RELOAD_POLL) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// The probe tasks of the configuration being followed; dropping it stops them.
#[derive(Default)]
struct Probes {
    config: Option<Arc<Config>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Probes {
    /// Restarts the probes when `config` is not the one already followed.
    fn follow(&mut self, config: Arc<Config>) {
        if self
            .config
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, &config))
        {
            return;
        }
        self.stop();
        if let Some(previous) = &self.config {
            carry_over(&previous.upstreams, &config.upstreams);
            forget_gauges(&previous.upstreams, &config.upstreams);
        }

        for upstream in config.upstreams.values() {
            for index in 0..upstream.addresses().len() {
                let task = watch_address(upstream.clone(), index);
                self.tasks.push(tokio::spawn(task));
            }
        }
        self.config = Some(config);
    }

    fn stop(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
    }
}

impl Drop for Probes {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Copies the health of addresses that `previous` and `next` both give an upstream.
fn carry_over(previous: &Upstreams, next: &Upstreams) {
    for (name, upstream) in next {
        let Some(old) = previous.get(name) else {
            continue;
        };
        for (index, address) in upstream.addresses().iter().enumerate() {
            if let Some(old_index) = old.addresses().iter().position(|a| a == address) {
                upstream.set_healthy(index, old.is_healthy(old_index));
            }
        }
    }
}

/// Drops the gauge of every address `next` no longer has, so a scrape shows no
/// address that is not in the running file.
fn forget_gauges(previous: &Upstreams, next: &Upstreams) {
    for (name, old) in previous {
        for address in old.addresses() {
            let kept = next
                .get(name)
                .is_some_and(|upstream| upstream.addresses().contains(address));
            if !kept {
                let _ = METRICS
                    .upstream_address_healthy
                    .remove_label_values(&[name.as_str(), &address.to_string()]);
            }
        }
    }
}

/// Probes one address forever (until aborted), applying the thresholds.
async fn watch_address(upstream: Arc<Upstream>, index: usize) {
    let check = upstream.health_check().clone();
    let address = upstream.addresses()[index];
    let mut tracker = HealthTracker::new(upstream.is_healthy(index), &check);
    show(&upstream, address, tracker.is_healthy());

    // The first tick fires at once: a fresh configuration is checked straight away.
    let mut ticks = tokio::time::interval(check.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let result = probe(address, &check).await;
        if let Some(change) = tracker.record(result.is_ok()) {
            upstream.set_healthy(index, tracker.is_healthy());
            show(&upstream, address, tracker.is_healthy());
            report(&upstream, address, change, result.err(), &check);
        }
    }
}

fn show(upstream: &Upstream, address: SocketAddr, healthy: bool) {
    METRICS
        .upstream_address_healthy
        .with_label_values(&[upstream.name.as_str(), &address.to_string()])
        .set(i64::from(healthy));
}

fn report(
    upstream: &Upstream,
    address: SocketAddr,
    change: Change,
    failure: Option<String>,
    check: &HealthCheck,
) {
    let name = &upstream.name;
    match change {
        Change::WentDown => log::warn!(
            "upstream {name}: address {address} is down after {} failed health checks \
             (last: {}); it gets no requests until it passes again",
            check.unhealthy_after,
            failure.unwrap_or_default()
        ),
        Change::CameBack => log::info!(
            "upstream {name}: address {address} is back up after {} passed health checks",
            check.healthy_after
        ),
    }
}

/// One probe: `Ok` when the address passes, otherwise why not.
async fn probe(address: SocketAddr, check: &HealthCheck) -> Result<(), String> {
    let attempt = async {
        let stream = TcpStream::connect(address)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        match &check.path {
            None => Ok(()),
            Some(path) => probe_path(stream, address, path).await,
        }
    };
    timeout(check.timeout, attempt)
        .await
        .map_err(|_| format!("no answer within {:?}", check.timeout))?
}

/// `GET path` on a connected stream; passes on a `2xx` or `3xx` status.
async fn probe_path(mut stream: TcpStream, address: SocketAddr, path: &str) -> Result<(), String> {
    // `path` was checked at load time to be printable ASCII without spaces, so it
    // cannot break the request line.
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nUser-Agent: switchyard-health-check\r\n\
         Connection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("send: {e}"))?;

    let head = read_status_line(&mut stream).await?;
    match parse_status(&head) {
        Some(status) if (200..400).contains(&status) => Ok(()),
        Some(status) => Err(format!("status {status}")),
        None => Err("no HTTP status line in the answer".to_owned()),
    }
}

/// Reads until the end of the first line, or [`MAX_STATUS_LINE`] bytes.
async fn read_status_line(stream: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < MAX_STATUS_LINE {
        let read = stream
            .read(&mut buffer)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    Ok(head)
}

/// The status code of an HTTP/1.x status line.
fn parse_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_ascii_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::UpstreamTimeouts;
    use tokio::net::TcpListener;

    #[test]
    fn status_lines() {
        let cases: &[(&[u8], Option<u16>)] = &[
            (b"HTTP/1.1 200 OK\r\n", Some(200)),
            (b"HTTP/1.0 503 Service Unavailable\r\nx: y", Some(503)),
            (b"HTTP/1.1 302\r\n", Some(302)),
            (b"SSH-2.0-OpenSSH\r\n", None),
            (b"HTTP/1.1 abc\r\n", None),
            (b"", None),
        ];
        for (head, expected) in cases {
            let text = String::from_utf8_lossy(head);
            assert_eq!(parse_status(head), *expected, "{text:?}");
        }
    }

    /// A server that answers every connection with `answer`, then closes it.
    async fn answering(answer: &'static [u8]) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request).await;
                let _ = stream.write_all(answer).await;
            }
        });
        address
    }

    fn check(path: Option<&str>) -> HealthCheck {
        HealthCheck {
            path: path.map(str::to_owned),
            timeout: Duration::from_millis(500),
            ..HealthCheck::default()
        }
    }

    #[tokio::test]
    async fn probes_pass_on_connect_or_a_good_status() {
        let ok = answering(b"HTTP/1.1 204 No Content\r\n\r\n").await;
        let failing = answering(b"HTTP/1.1 503 Service Unavailable\r\n\r\n").await;
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let refused = closed.local_addr().unwrap();
        drop(closed);

        assert_eq!(probe(ok, &check(Some("/up"))).await, Ok(()));
        assert_eq!(probe(failing, &check(None)).await, Ok(()));
        let failed = probe(failing, &check(Some("/up"))).await;
        assert_eq!(failed, Err("status 503".to_owned()));
        assert!(probe(refused, &check(None)).await.is_err());
    }

    #[tokio::test]
    async fn a_silent_address_fails_within_the_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent = listener.local_addr().unwrap();
        let started = std::time::Instant::now();
        let result = probe(silent, &check(Some("/up"))).await;
        assert!(result.unwrap_err().starts_with("no answer within"));
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(listener);
    }

    #[test]
    fn health_carries_over_to_a_reloaded_upstream() {
        let address: SocketAddr = "127.0.0.1:3001".parse().unwrap();
        let other: SocketAddr = "127.0.0.1:3002".parse().unwrap();
        let old = Upstream::new("legacy".into(), vec![address], UpstreamTimeouts::default());
        old.set_healthy(0, false);
        let new = Upstream::new(
            "legacy".into(),
            vec![other, address],
            UpstreamTimeouts::default(),
        );
        let previous: Upstreams = [("legacy".to_owned(), Arc::new(old))].into();
        let next: Upstreams = [("legacy".to_owned(), Arc::new(new))].into();
        carry_over(&previous, &next);
        assert!(next["legacy"].is_healthy(0));
        assert!(!next["legacy"].is_healthy(1));
    }
}
