//! Upstream pools: active health checks take a dead address out of rotation and put
//! it back when it recovers, and failed attempts are retried only when that is safe.
//!
//! Every test runs the real binary in front of recording upstreams on 127.0.0.1. Load
//! is bounded in requests and time; every wait polls with a deadline.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_tests::{
    build_request, get, request, try_send_raw, Edge, EdgeConfig, RecordingUpstream, Reply, Signal,
};

/// Longest wait for anything a test waits on: log lines, recorded requests.
const WAIT: Duration = Duration::from_secs(10);

/// How often a polled condition is looked at again.
const POLL: Duration = Duration::from_millis(20);

/// Clients sending the steady load, each one request at a time.
const LOAD_CLIENTS: usize = 4;

/// Bounds on the steady load, whatever happens to the test.
const LOAD_MAX_REQUESTS: usize = 4000;
const LOAD_MAX_TIME: Duration = Duration::from_secs(40);

/// Pause between two requests of one load client: steady, not flat out.
const LOAD_PACE: Duration = Duration::from_millis(5);

/// A route file whose default upstream `pool` is `${A}` and `${B}`, with `health`
/// lines added to the pool, and the admin listener on.
fn pool_routes(health: &str) -> String {
    format!(
        r#"[server]
default_upstream = "pool"

[admin]
listen = "${{SWITCHYARD_ADMIN_LISTEN}}"

[stores]
database_url = "postgres://postgres@127.0.0.1:5432/postgres"
redis_url = "redis://127.0.0.1:6379/0"

[upstreams.pool]
addresses = ["${{A}}", "${{B}}"]
connect_timeout = "1s"
read_timeout = "5s"
{health}
"#
    )
}

/// An edge in front of the pool `a`, `b`.
async fn edge_for(a: SocketAddr, b: SocketAddr, health: &str) -> Edge {
    let config = EdgeConfig::new(pool_routes(health))
        .env("A", a.to_string())
        .env("B", b.to_string());
    Edge::start(config).await
}

/// Waits until `condition` holds; panics naming `what` after [`WAIT`].
async fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "{what} within {WAIT:?}");
        tokio::time::sleep(POLL).await;
    }
}

/// Requests of the steady load an upstream received (health probes left out).
fn load_seen(upstream: &RecordingUpstream) -> usize {
    let requests = upstream.requests();
    requests
        .iter()
        .filter(|r| r.path().starts_with("/load/"))
        .count()
}

/// Requests to `path` an upstream received.
fn seen_at(upstream: &RecordingUpstream, path: &str) -> usize {
    let requests = upstream.requests();
    requests.iter().filter(|r| r.path() == path).count()
}

/// A port on 127.0.0.1 where nothing listens: connecting is refused.
fn refused_address() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a port");
    listener.local_addr().expect("its address")
}

/// A new recording upstream on `addr`, once the stopped one has let go of the port.
async fn restart_at(addr: SocketAddr) -> RecordingUpstream {
    let deadline = Instant::now() + WAIT;
    loop {
        match RecordingUpstream::start_at(addr).await {
            Ok(upstream) => return upstream,
            // The old listener closes as its task is cancelled, a moment after the drop.
            Err(_) if Instant::now() < deadline => tokio::time::sleep(POLL).await,
            Err(e) => panic!("could not listen on {addr} again: {e}"),
        }
    }
}

/// What one request of the steady load got, and when.
struct Outcome {
    finished: Instant,
    /// The status, or the I/O error the client saw.
    result: Result<u16, String>,
}

impl Outcome {
    fn failed(&self) -> bool {
        self.result != Ok(200)
    }
}

/// One load client: `GET /load/<client>/<n>` on a new connection each time, until
/// `stop` or the bounds.
async fn load_client(edge: SocketAddr, client: usize, stop: Arc<AtomicBool>) -> Vec<Outcome> {
    let started = Instant::now();
    let mut outcomes = Vec::new();
    for n in 0..LOAD_MAX_REQUESTS {
        if stop.load(Ordering::Relaxed) || started.elapsed() > LOAD_MAX_TIME {
            break;
        }
        let path = format!("/load/{client}/{n}");
        let bytes = build_request(
            &edge.to_string(),
            "GET",
            &path,
            &[("Connection", "close")],
            b"",
        );
        let result = try_send_raw(edge, &bytes).await;
        outcomes.push(Outcome {
            finished: Instant::now(),
            result: result.map(|r| r.status).map_err(|e| e.to_string()),
        });
        tokio::time::sleep(LOAD_PACE).await;
    }
    outcomes
}

/// The steady load: [`LOAD_CLIENTS`] clients until the flag is set.
struct Load {
    stop: Arc<AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<Vec<Outcome>>>,
}

impl Load {
    fn start(edge: SocketAddr) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..LOAD_CLIENTS)
            .map(|client| tokio::spawn(load_client(edge, client, stop.clone())))
            .collect();
        Load { stop, clients }
    }

    /// Stops the clients and hands back every outcome.
    async fn finish(self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::Relaxed);
        let mut outcomes = Vec::new();
        for client in self.clients {
            outcomes.extend(client.await.expect("a load client panicked"));
        }
        outcomes
    }
}

/// The health gauge of `address` in the admin listener's metrics.
async fn health_gauge(edge: &Edge, address: SocketAddr) -> Option<String> {
    let metrics = get(edge.admin_addr(), "/metrics").await.text();
    let label = format!("address=\"{address}\"");
    metrics
        .lines()
        .find(|line| {
            line.starts_with("switchyard_upstream_address_healthy{") && line.contains(&label)
        })
        .and_then(|line| line.rsplit(' ').next())
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_address_is_skipped_and_taken_back_when_it_recovers() {
    let a = RecordingUpstream::start().await;
    let b = RecordingUpstream::start().await;
    let a_addr = a.addr();
    let health = "health_check_path = \"/probe\"\nhealth_check_interval = \"100ms\"\n\
                  health_check_timeout = \"200ms\"\n";
    let edge = edge_for(a_addr, b.addr(), health).await;
    let load = Load::start(edge.addr());
    until("both addresses take load", || {
        load_seen(&a) > 10 && load_seen(&b) > 10
    })
    .await;

    // Stop `a` mid-load: its listener and every open connection go away.
    drop(a);
    let stopped = Instant::now();
    edge.wait_for_log(&format!("address {a_addr} is down"), WAIT)
        .await;
    let marked_down = Instant::now();
    assert_eq!(health_gauge(&edge, a_addr).await.as_deref(), Some("0"));
    let b_before = load_seen(&b);
    until("b takes the whole load", || load_seen(&b) > b_before + 100).await;

    // The same port answers again: the check puts it back and it gets traffic.
    let a = restart_at(a_addr).await;
    edge.wait_for_log(&format!("address {a_addr} is back up"), WAIT)
        .await;
    until("traffic reaches the recovered address", || {
        load_seen(&a) > 10
    })
    .await;
    assert_eq!(health_gauge(&edge, a_addr).await.as_deref(), Some("1"));

    let outcomes = load.finish().await;
    assert_no_errors_after(&outcomes, stopped, marked_down);
}

/// No request failed once the check marked the address down. Before that, connect
/// failures and dead pooled connections are retried on the other address; only a
/// request the stopped upstream had already read on a fresh connection may fail, at
/// most one per load client, since the upstream may have acted on it.
fn assert_no_errors_after(outcomes: &[Outcome], stopped: Instant, marked_down: Instant) {
    let failures: Vec<(Duration, &Result<u16, String>)> = outcomes
        .iter()
        .filter(|o| o.failed())
        .map(|o| (o.finished.saturating_duration_since(stopped), &o.result))
        .collect();
    let after: Vec<_> = outcomes
        .iter()
        .filter(|o| o.failed() && o.finished > marked_down)
        .collect();
    let in_window = outcomes
        .iter()
        .filter(|o| o.finished > stopped && o.finished <= marked_down)
        .count();

    eprintln!(
        "{} requests, {in_window} between the stop and the check marking it down, {} failed",
        outcomes.len(),
        failures.len()
    );
    assert!(
        in_window > 0,
        "no request ran before the check marked the address down"
    );
    assert!(
        after.is_empty(),
        "failures after marking down: {failures:?}"
    );
    assert!(
        failures.len() <= LOAD_CLIENTS,
        "{} of {} requests failed (time since the stop, result): {failures:?}",
        failures.len(),
        outcomes.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_the_upstream_may_have_acted_on_is_never_sent_twice() {
    let a = RecordingUpstream::start().await;
    let b = RecordingUpstream::start().await;
    for upstream in [&a, &b] {
        upstream.respond("/pay/", Reply::hang_up());
    }
    let edge = edge_for(a.addr(), b.addr(), "health_check_interval = \"1m\"\n").await;

    // The case that matters is a POST on a pooled connection, where a GET would be
    // retried. Whether the pool has the warm-up connection back in time is a race, so
    // rounds go on until one POST took a pooled connection.
    let mut pooled = false;
    for round in 0..POST_ROUNDS {
        pooled = post_once_to_a_hang_up(&edge, [&a, &b], round).await;
        if pooled {
            break;
        }
    }
    assert!(
        pooled,
        "no POST in {POST_ROUNDS} rounds took a pooled connection"
    );
}

/// Rounds of [`post_once_to_a_hang_up`] before giving up on a pooled connection.
const POST_ROUNDS: usize = 5;

/// Warms a pooled connection to both addresses, then POSTs to an app that hangs up
/// after reading it: the client gets `502` and exactly one copy arrives. Answers
/// whether the POST went over a pooled connection.
async fn post_once_to_a_hang_up(edge: &Edge, pool: [&RecordingUpstream; 2], round: usize) -> bool {
    for _ in 0..2 {
        assert_eq!(get(edge.addr(), "/warm").await.status, 200);
    }
    let path = format!("/pay/{round}");
    let body = format!(r#"{{"amount":{round}}}"#);
    let headers = [("Content-Type", "application/json")];
    let response = request(edge.addr(), "POST", &path, &headers, body.as_bytes()).await;
    assert_eq!(response.status, 502, "{}", response.text());
    assert_eq!(response.json()["error"], "upstream_unavailable");

    // Had the edge retried, the other address would have recorded a second copy.
    let copies: Vec<usize> = pool.iter().map(|up| seen_at(up, &path)).collect();
    assert_eq!(
        copies.iter().sum::<usize>(),
        1,
        "copies of {path} at a, b: {copies:?}"
    );
    let receiver = pool[if copies[0] == 1 { 0 } else { 1 }];
    let recorded = receiver.requests();
    let pay = recorded
        .iter()
        .find(|r| r.path() == path)
        .expect("the POST");
    assert_eq!(pay.body, body.as_bytes());
    recorded
        .iter()
        .any(|r| r.path() == "/warm" && r.connection == pay.connection)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_retried_on_another_address_even_for_a_post() {
    let b = RecordingUpstream::start().await;
    // Probes far apart: the refused address stays in rotation, so requests meet it.
    let edge = edge_for(
        refused_address(),
        b.addr(),
        "health_check_interval = \"1m\"\n",
    )
    .await;

    // Addresses are taken in turn, so at least two of these try the refused one first.
    let headers = [("Content-Type", "application/json")];
    for n in 0..4 {
        let body = format!(r#"{{"order":{n}}}"#);
        let response = request(edge.addr(), "POST", "/order", &headers, body.as_bytes()).await;
        assert_eq!(response.status, 200, "POST {n}: {}", response.text());
    }
    let bodies: Vec<String> = b
        .requests()
        .iter()
        .filter(|r| r.path() == "/order")
        .map(|r| r.text())
        .collect();
    let expected: Vec<String> = (0..4).map(|n| format!(r#"{{"order":{n}}}"#)).collect();
    assert_eq!(bodies, expected, "each POST exactly once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_failing_its_check_gets_no_requests_until_it_passes() {
    let a = RecordingUpstream::start().await;
    let b = RecordingUpstream::start().await;
    // `a` still answers requests, but its check says it is sick.
    a.respond("/probe", Reply::text(503, "draining"));
    let health = "health_check_path = \"/probe\"\nhealth_check_interval = \"100ms\"\n";
    let edge = edge_for(a.addr(), b.addr(), health).await;
    edge.wait_for_log(&format!("address {} is down", a.addr()), WAIT)
        .await;

    for n in 0..20 {
        let response = get(edge.addr(), &format!("/load/sick/{n}")).await;
        assert_eq!(response.status, 200);
    }
    assert_eq!((load_seen(&a), load_seen(&b)), (0, 20));

    a.respond("/probe", Reply::text(200, "ok"));
    edge.wait_for_log(&format!("address {} is back up", a.addr()), WAIT)
        .await;
    for n in 0..20 {
        let response = get(edge.addr(), &format!("/load/well/{n}")).await;
        assert_eq!(response.status, 200);
    }
    assert_eq!((load_seen(&a), load_seen(&b)), (10, 30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_checks_the_new_addresses() {
    let a = RecordingUpstream::start().await;
    let b = RecordingUpstream::start().await;
    let c = RecordingUpstream::start().await;
    c.respond("/probe", Reply::new(503));
    let health = "health_check_path = \"/probe\"\nhealth_check_interval = \"100ms\"\n";
    let config = EdgeConfig::new(pool_routes(health))
        .env("A", a.addr().to_string())
        .env("B", b.addr().to_string())
        .env("C", c.addr().to_string());
    let edge = Edge::start(config).await;

    // The file now names `c` instead of `b`; only a probe of `c` can notice it is sick.
    let routes = pool_routes(health).replace("${B}", "${C}");
    std::fs::write(edge.routes_path(), routes).expect("rewrite routes.toml");
    edge.signal(Signal::SIGHUP);
    edge.wait_for_log("routes reloaded", WAIT).await;
    edge.wait_for_log(&format!("address {} is down", c.addr()), WAIT)
        .await;

    for n in 0..10 {
        assert_eq!(get(edge.addr(), &format!("/load/{n}")).await.status, 200);
    }
    assert_eq!((load_seen(&a), load_seen(&c)), (10, 0));
}
