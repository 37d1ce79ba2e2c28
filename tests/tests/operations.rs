//! Operations under traffic: route reloads, a zero-downtime upgrade and a graceful
//! shutdown, each done to the real binary while clients keep sending requests.
//!
//! The steady load is a few client tasks: some reuse one keep-alive connection, some
//! open a fresh connection per request. Each request is `GET /version`, which every
//! route file of these tests sends to a recording upstream answering with its own name,
//! so each answer says which table (or which process) served it. The load is paced and
//! bounded: it stops when the scenario ends, after [`MAX_REQUESTS`], or after
//! [`MAX_LOAD_TIME`], whichever comes first, and a load cut short by a bound fails the
//! test, since it no longer covers the whole scenario.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_tests::{get, Edge, EdgeConfig, RecordingUpstream, Reply, Signal};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// Most requests one load sends, whatever happens.
const MAX_REQUESTS: usize = 20_000;
/// Longest one load runs, whatever happens.
const MAX_LOAD_TIME: Duration = Duration::from_secs(30);
/// Pause after each request of a client: five clients then send at most about 1,250
/// requests a second, so [`MAX_REQUESTS`] lasts longer than any scenario here.
const PACE: Duration = Duration::from_millis(4);
/// Longest a connect or a read may stall before the request counts as failed.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How often scenario steps poll.
const POLL: Duration = Duration::from_millis(10);
/// How long a reload may take to show.
const RELOAD_WITHIN: Duration = Duration::from_secs(5);
/// Three clients on keep-alive connections and two opening one per request.
const CLIENTS: [Mode; 5] = [
    Mode::KeepAlive,
    Mode::KeepAlive,
    Mode::KeepAlive,
    Mode::Fresh,
    Mode::Fresh,
];

/// How a load client uses connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// One connection for as long as the server keeps it open.
    KeepAlive,
    /// A new connection, with `Connection: close`, for every request.
    Fresh,
}

/// Whether a request may be sent again after its connection failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Retry {
    Never,
    /// Once, on a fresh connection, when a keep-alive connection that already carried a
    /// response fails before any byte of the next response: the server closed it while
    /// idle as the request went out, which HTTP/1.1 lets a client retry (RFC 9112,
    /// section 9.3.1). Only keep-alive clients retry; a fresh connection never does.
    IdleCloseOnce,
}

/// What the clients share.
struct Shared {
    addr: SocketAddr,
    /// The bodies a correct answer may have, oldest version first.
    versions: Vec<String>,
    retry: Retry,
    stop: AtomicBool,
    started: Instant,
    sent: AtomicUsize,
    /// Correct answers so far, per version.
    answered: Vec<AtomicUsize>,
}

/// What one client saw.
#[derive(Debug)]
struct ClientReport {
    mode: Mode,
    answered: usize,
    /// Correct answers per body.
    seen: BTreeMap<String, usize>,
    /// Every request that did not get a `200` with a known body, described.
    failures: Vec<String>,
    /// The connection errors that were retried.
    retried: Vec<String>,
    /// Answers from an older version than one this client had already been given.
    regressions: Vec<String>,
    /// Whether [`MAX_REQUESTS`] or [`MAX_LOAD_TIME`] stopped the client.
    cut_by_bounds: bool,
}

/// A running steady load.
struct Load {
    shared: Arc<Shared>,
    clients: Vec<JoinHandle<ClientReport>>,
}

impl Load {
    /// Starts one client task per mode, sending `GET /version` to `addr`.
    fn start(addr: SocketAddr, versions: &[String], retry: Retry) -> Load {
        let shared = Arc::new(Shared {
            addr,
            versions: versions.to_vec(),
            retry,
            stop: AtomicBool::new(false),
            started: Instant::now(),
            sent: AtomicUsize::new(0),
            answered: versions.iter().map(|_| AtomicUsize::new(0)).collect(),
        });
        let clients = CLIENTS
            .iter()
            .map(|&mode| tokio::spawn(run_client(shared.clone(), mode)))
            .collect();
        Load { shared, clients }
    }

    /// Correct answers so far.
    fn answered(&self) -> usize {
        (0..self.shared.versions.len())
            .map(|version| self.answered_by(version))
            .sum()
    }

    /// Correct answers so far that came from `version`.
    fn answered_by(&self, version: usize) -> usize {
        self.shared.answered[version].load(Ordering::SeqCst)
    }

    /// Waits until `more` further correct answers arrived; panics after `within`.
    async fn wait_answered(&self, more: usize, within: Duration) {
        let target = self.answered() + more;
        let deadline = Instant::now() + within;
        while self.answered() < target {
            assert!(
                Instant::now() < deadline,
                "the load got {} of {target} correct answers within {within:?}",
                self.answered()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Stops the clients and collects what they saw.
    async fn finish(self) -> Vec<ClientReport> {
        self.shared.stop.store(true, Ordering::SeqCst);
        let mut reports = Vec::new();
        for client in self.clients {
            reports.push(client.await.expect("a load client panicked"));
        }
        reports
    }
}

/// A client's loop: one request at a time until told to stop or out of bounds.
async fn run_client(shared: Arc<Shared>, mode: Mode) -> ClientReport {
    let mut report = ClientReport {
        mode,
        answered: 0,
        seen: BTreeMap::new(),
        failures: Vec::new(),
        retried: Vec::new(),
        regressions: Vec::new(),
        cut_by_bounds: false,
    };
    let mut kept: Option<TcpStream> = None;
    let mut newest = 0;
    while !shared.stop.load(Ordering::SeqCst) {
        let over_time = shared.started.elapsed() >= MAX_LOAD_TIME;
        if over_time || shared.sent.fetch_add(1, Ordering::SeqCst) >= MAX_REQUESTS {
            report.cut_by_bounds = true;
            break;
        }
        let outcome = match mode {
            Mode::KeepAlive => keep_alive_request(&shared, &mut kept, &mut report).await,
            Mode::Fresh => fresh_request(shared.addr).await,
        };
        match outcome.and_then(|answer| version_of(&shared, answer)) {
            Ok((version, body)) => {
                if version < newest {
                    let newest = &shared.versions[newest];
                    report.regressions.push(format!("{body} after {newest}"));
                }
                newest = newest.max(version);
                shared.answered[version].fetch_add(1, Ordering::SeqCst);
                report.answered += 1;
                *report.seen.entry(body).or_default() += 1;
            }
            Err(failure) => report.failures.push(failure),
        }
        tokio::time::sleep(PACE).await;
    }
    report
}

/// A request on the kept connection, opening one when there is none.
async fn keep_alive_request(
    shared: &Shared,
    kept: &mut Option<TcpStream>,
    report: &mut ClientReport,
) -> Result<Answer, String> {
    // Only a connection that already carried a whole exchange is kept.
    let reused = kept.is_some();
    let mut stream = match kept.take() {
        Some(stream) => stream,
        None => connect(shared.addr).await?,
    };
    let answer = match exchange(&mut stream, shared.addr, "/version", false).await {
        Ok(answer) => answer,
        Err(Failure::BeforeResponse(error)) if reused && shared.retry == Retry::IdleCloseOnce => {
            report.retried.push(error.to_string());
            stream = connect(shared.addr).await?;
            exchange(&mut stream, shared.addr, "/version", false)
                .await
                .map_err(|failure| format!("retry after {error}: {failure}"))?
        }
        Err(failure) => return Err(failure.to_string()),
    };
    if !answer.close {
        *kept = Some(stream);
    }
    Ok(answer)
}

/// A request on a connection of its own.
async fn fresh_request(addr: SocketAddr) -> Result<Answer, String> {
    let mut stream = connect(addr).await?;
    exchange(&mut stream, addr, "/version", true)
        .await
        .map_err(|failure| failure.to_string())
}

/// The version a `200` answer comes from, or why it is wrong.
fn version_of(shared: &Shared, answer: Answer) -> Result<(usize, String), String> {
    let version = shared.versions.iter().position(|v| *v == answer.body);
    match version {
        Some(version) if answer.status == 200 => Ok((version, answer.body)),
        _ => Err(format!("answer {}: {:?}", answer.status, answer.body)),
    }
}

/// A response as the load needs it.
struct Answer {
    status: u16,
    body: String,
    /// Whether the server said `Connection: close`.
    close: bool,
}

/// Why an exchange failed.
enum Failure {
    /// The connection failed before any byte of a response arrived.
    BeforeResponse(io::Error),
    /// No whole response: cut short, malformed, or too slow.
    Broken(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::BeforeResponse(error) => write!(f, "before any response byte: {error}"),
            Failure::Broken(why) => f.write_str(why),
        }
    }
}

/// Connects within [`IO_TIMEOUT`].
async fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    match tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(error)) => Err(format!("connect: {error}")),
        Err(_) => Err(format!("connect: no answer within {IO_TIMEOUT:?}")),
    }
}

/// Sends `GET path` and reads the response within [`IO_TIMEOUT`], noting whether any
/// byte of it came.
async fn exchange(
    stream: &mut TcpStream,
    addr: SocketAddr,
    path: &str,
    close: bool,
) -> Result<Answer, Failure> {
    let connection = if close { "Connection: close\r\n" } else { "" };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{connection}\r\n");
    if let Err(error) = stream.write_all(request.as_bytes()).await {
        return Err(Failure::BeforeResponse(error));
    }
    let deadline = tokio::time::Instant::now() + IO_TIMEOUT;
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(answer) = parse_answer(&received)? {
            return Ok(answer);
        }
        let read = tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await;
        match read {
            Ok(Ok(0)) if received.is_empty() => {
                let closed = io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed");
                return Err(Failure::BeforeResponse(closed));
            }
            Ok(Err(error)) if received.is_empty() => return Err(Failure::BeforeResponse(error)),
            Ok(Ok(0)) => return Err(cut_short("closed", &received)),
            Ok(Err(error)) => return Err(cut_short(&error.to_string(), &received)),
            Ok(Ok(n)) => received.extend_from_slice(&chunk[..n]),
            Err(_) => return Err(cut_short("no whole answer in time", &received)),
        }
    }
}

fn cut_short(why: &str, received: &[u8]) -> Failure {
    let text = String::from_utf8_lossy(received);
    Failure::Broken(format!("{why} after {} bytes: {text:?}", received.len()))
}

/// A whole response at the start of `bytes`, `None` while more is needed.
fn parse_answer(bytes: &[u8]) -> Result<Option<Answer>, Failure> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(error) => return Err(Failure::Broken(format!("bad response head: {error}"))),
    };
    let header = |name: &str| {
        let found = response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name));
        found.map(|h| String::from_utf8_lossy(h.value).trim().to_owned())
    };
    let Some(length) = header("content-length").and_then(|v| v.parse::<usize>().ok()) else {
        let head = String::from_utf8_lossy(&bytes[..head_len]);
        return Err(Failure::Broken(format!("no Content-Length: {head:?}")));
    };
    if bytes.len() < head_len + length {
        return Ok(None);
    }
    let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    Ok(Some(Answer {
        status: response.code.unwrap_or_default(),
        body: String::from_utf8_lossy(&bytes[head_len..head_len + length]).into_owned(),
        close,
    }))
}

/// The reports, one line per client, for assertion messages.
fn summary(reports: &[ClientReport]) -> String {
    let mut lines = Vec::new();
    for report in reports {
        lines.push(format!(
            "{:?}: {} answered {:?}; {} failed {:?}; {} retried {:?}; regressions {:?}; cut by bounds: {}",
            report.mode,
            report.answered,
            report.seen,
            report.failures.len(),
            report.failures.iter().take(5).collect::<Vec<_>>(),
            report.retried.len(),
            report.retried,
            report.regressions.iter().take(5).collect::<Vec<_>>(),
            report.cut_by_bounds,
        ));
    }
    lines.join("\n")
}

/// Asserts what every scenario needs of its load: no failed request, no client cut
/// short by a bound.
fn assert_no_failures(reports: &[ClientReport], logs: &str) {
    let failed: usize = reports.iter().map(|r| r.failures.len()).sum();
    let cut = reports.iter().any(|r| r.cut_by_bounds);
    assert!(
        failed == 0 && !cut,
        "{failed} failed requests (load cut by its bounds: {cut}):\n{}\nedge logs:\n{logs}",
        summary(reports)
    );
}

/// The answer of version `k`'s upstream.
fn version_body(k: usize) -> String {
    format!("v{k}")
}

/// A route file sending `/version` to upstream `name` (address from `${NAME}`, upper
/// case) and everything else to `base`.
fn routes_to(name: &str) -> String {
    let var = name.to_uppercase();
    format!(
        r#"
[server]
default_upstream = "base"

[upstreams.base]
addresses = ["${{BASE}}"]

[upstreams.{name}]
addresses = ["${{{var}}}"]

[[routes]]
name = "version"
path = "/version"
upstream = "{name}"
"#
    )
}

/// A recording upstream answering `/version` with `body`.
async fn upstream_answering(body: &str) -> RecordingUpstream {
    let upstream = RecordingUpstream::start().await;
    upstream.respond("/version", Reply::text(200, body));
    upstream
}

/// How often `needle` occurs in the edge's logs.
fn log_count(edge: &Edge, needle: &str) -> usize {
    edge.logs().matches(needle).count()
}

/// Waits until `needle` occurs `count` times in the edge's logs; panics after `within`.
async fn wait_for_log_count(edge: &Edge, needle: &str, count: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while log_count(edge, needle) < count {
        assert!(
            Instant::now() < deadline,
            "{needle:?} not logged {count} times within {within:?}:\n{}",
            edge.logs()
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Probes `/version` until version `now` answers; every answer on the way must be a
/// `200` from `before` or `now`.
async fn wait_until_version(edge: &Edge, before: usize, now: usize) {
    let deadline = Instant::now() + RELOAD_WITHIN;
    loop {
        let response = get(edge.addr(), "/version").await;
        let body = response.text();
        assert_eq!(response.status, 200, "probe: {body}");
        if body == version_body(now) {
            return;
        }
        assert_eq!(
            body,
            version_body(before),
            "probe while reloading to v{now}"
        );
        assert!(
            Instant::now() < deadline,
            "v{now} not served within {RELOAD_WITHIN:?}:\n{}",
            edge.logs()
        );
        tokio::time::sleep(POLL).await;
    }
}

/// One change of the route file.
enum Change {
    /// A valid file sending `/version` to version `k`'s upstream.
    Valid(usize),
    /// A broken file, and what its "routes not reloaded" line must say.
    Broken(String, &'static str),
}

/// Versions served: v0 at start, then one per valid change.
const VERSIONS: usize = 9;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_reloads_under_steady_load_fail_no_request_and_skip_broken_files() {
    let base = upstream_answering("base").await;
    let mut config = EdgeConfig::new(routes_to("v0")).env("BASE", base.addr().to_string());
    let mut upstreams = Vec::new();
    for k in 0..VERSIONS {
        let upstream = upstream_answering(&version_body(k)).await;
        config = config.env(format!("V{k}"), upstream.addr().to_string());
        upstreams.push(upstream);
    }
    let mut edge = Edge::start(config).await;
    let versions: Vec<String> = (0..VERSIONS).map(version_body).collect();
    // Nothing closes a connection during a reload, so nothing may be retried.
    let load = Load::start(edge.addr(), &versions, Retry::Never);
    load.wait_answered(100, RELOAD_WITHIN).await;

    let unclosed_table = "[server\ndefault_upstream = \"base\"\n".to_owned();
    let unknown_upstream = routes_to("v4").replace("upstream = \"v4\"", "upstream = \"gone\"");
    let changes = [
        Change::Valid(1),
        Change::Valid(2),
        Change::Valid(3),
        Change::Broken(unclosed_table, "routes.toml:1:"),
        Change::Valid(4),
        Change::Valid(5),
        Change::Valid(6),
        Change::Broken(unknown_upstream, "unknown upstream `gone`"),
        Change::Valid(7),
        Change::Valid(8),
    ];
    let mut current = 0;
    let mut rejected = 0;
    for change in changes {
        match change {
            Change::Valid(k) => {
                std::fs::write(edge.routes_path(), routes_to(&version_body(k))).unwrap();
                edge.signal(Signal::SIGHUP);
                wait_until_version(&edge, current, k).await;
                current = k;
            }
            Change::Broken(text, reason) => {
                std::fs::write(edge.routes_path(), text).unwrap();
                edge.signal(Signal::SIGHUP);
                rejected += 1;
                let needle = "routes not reloaded";
                wait_for_log_count(&edge, needle, rejected, RELOAD_WITHIN).await;
                let logs = edge.logs();
                let line = logs.lines().rev().find(|l| l.contains(needle));
                assert!(line.is_some_and(|l| l.contains(reason)), "{logs}");
                // The previous table keeps serving.
                let response = get(edge.addr(), "/version").await;
                assert_eq!(
                    (response.status, response.text()),
                    (200, version_body(current))
                );
            }
        }
        // Traffic keeps flowing on the table just installed (or kept).
        load.wait_answered(50, RELOAD_WITHIN).await;
    }
    let reports = load.finish().await;
    let logs = edge.logs();

    assert_no_failures(&reports, &logs);
    let summary = summary(&reports);
    assert!(reports.iter().all(|r| r.retried.is_empty()), "{summary}");
    // A table, once swapped in, serves every later request of a client.
    assert!(
        reports.iter().all(|r| r.regressions.is_empty()),
        "{summary}"
    );
    for (k, upstream) in upstreams.iter().enumerate() {
        let body = version_body(k);
        assert!(
            reports.iter().any(|r| r.seen.contains_key(&body)),
            "the load never saw {body}:\n{summary}"
        );
        assert!(!upstream.requests().is_empty(), "{body} got no request");
    }
    assert!(base.requests().is_empty(), "requests fell through to base");
    assert_eq!(logs.matches("routes reloaded from").count(), 8, "{logs}");
    assert_eq!(logs.matches("routes not reloaded").count(), 2, "{logs}");
    assert!(edge.is_running());
    eprintln!("{summary}");
}

/// Pingora's fixed wait, after sending the sockets to a successor, before the old
/// process stops accepting (`CLOSE_TIMEOUT` in pingora-core's server).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Short grace periods for the edges of the upgrade and shutdown tests.
const GRACE: Duration = Duration::from_secs(2);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);
/// Allowance for the old process's exit on top of the periods it waits.
const SLACK: Duration = Duration::from_millis(1500);

/// `conf_extra` setting [`GRACE`] and [`SHUTDOWN_TIMEOUT`].
fn short_grace() -> String {
    format!(
        "grace_period_seconds: {}\ngraceful_shutdown_timeout_seconds: {}",
        GRACE.as_secs(),
        SHUTDOWN_TIMEOUT.as_secs()
    )
}

/// Waits for `edge` to exit; panics with its logs after `within`.
async fn exit_within(edge: &mut Edge, within: Duration, what: &str) -> ExitStatus {
    match edge.wait_exit(within).await {
        Some(status) => status,
        None => panic!("{what} still runs after {within:?}:\n{}", edge.logs()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upgrade_under_steady_load_hands_over_without_a_failed_request() {
    let base = upstream_answering("base").await;
    let old_upstream = upstream_answering("old").await;
    let new_upstream = upstream_answering("new").await;
    let config = EdgeConfig::new(routes_to("old"))
        .env("BASE", base.addr().to_string())
        .env("OLD", old_upstream.addr().to_string())
        .env("NEW", new_upstream.addr().to_string())
        .conf_extra(short_grace());
    let mut old = Edge::start(config.clone()).await;
    let addr = old.addr();
    // The successor's route file sends /version elsewhere, so each answer names the
    // process that gave it; its Pingora conf is the old one's.
    let successor_config = EdgeConfig {
        routes_toml: routes_to("new"),
        ..config
    };
    let versions = ["old".to_owned(), "new".to_owned()];
    let load = Load::start(addr, &versions, Retry::IdleCloseOnce);
    load.wait_answered(200, Duration::from_secs(5)).await;

    let mut new = old.start_successor(successor_config).await;
    let quit = Instant::now();
    old.signal(Signal::SIGQUIT);
    new.wait_for_log("switchyard listening on", Duration::from_secs(10))
        .await;
    // The old process accepts for CLOSE_TIMEOUT more, then stops, lets its requests in
    // flight finish within the grace period and exits.
    let within = CLOSE_TIMEOUT + GRACE + SHUTDOWN_TIMEOUT + SLACK;
    let status = exit_within(&mut old, within, "the old process").await;
    assert!(status.success(), "old: {status}\n{}", old.logs());
    eprintln!("the old process exited {:?} after SIGQUIT", quit.elapsed());
    let old_answers = load.answered_by(0);
    let new_answers = load.answered_by(1);
    assert!(
        old_answers > 0 && new_answers > 0,
        "answers from the old process: {old_answers}, from the new one: {new_answers}"
    );

    // Only the successor is left, and it serves.
    load.wait_answered(300, Duration::from_secs(10)).await;
    assert_eq!(
        load.answered_by(0),
        old_answers,
        "old answered after exiting"
    );
    let probe = get(addr, "/version").await;
    assert_eq!((probe.status, probe.text()), (200, "new".to_owned()));
    let reports = load.finish().await;
    assert!(new.is_running(), "{}", new.logs());

    let logs = format!("old:\n{}\nnew:\n{}", old.logs(), new.logs());
    assert_no_failures(&reports, &logs);
    // The old process closes each idle keep-alive connection once; the connection a
    // client opens after that goes to the successor, which closes none.
    let summary = summary(&reports);
    for report in &reports {
        let allowed = usize::from(report.mode == Mode::KeepAlive);
        assert!(report.retried.len() <= allowed, "{summary}");
    }
    eprintln!("{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_the_request_in_flight_refuses_new_connections_and_exits_0() {
    const SLOW: Duration = Duration::from_secs(1);
    let base = upstream_answering("base").await;
    base.respond("/slow", Reply::text(200, "slow").with_delay(SLOW));
    let routes = "[server]\ndefault_upstream = \"base\"\n\n\
        [upstreams.base]\naddresses = [\"${BASE}\"]\n";
    let config = EdgeConfig::new(routes)
        .env("BASE", base.addr().to_string())
        .conf_extra(short_grace());
    let mut edge = Edge::start(config).await;
    let addr = edge.addr();

    let slow = tokio::spawn(async move {
        let mut stream = connect(addr).await.expect("connect for the slow request");
        let answer = exchange(&mut stream, addr, "/slow", true).await;
        let answer = answer.unwrap_or_else(|failure| panic!("the slow request: {failure}"));
        (answer, Instant::now())
    });
    // The request is in flight once the upstream holds it.
    base.wait_for_requests(1, Duration::from_secs(5)).await;
    let signalled = Instant::now();
    edge.signal(Signal::SIGTERM);

    // New connections are refused at once, while the slow request is still running.
    let refused_within = Duration::from_millis(500);
    let refused_at = loop {
        let attempt = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(addr)).await;
        if matches!(&attempt, Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused) {
            break Instant::now();
        }
        assert!(
            signalled.elapsed() < refused_within,
            "connections still not refused {refused_within:?} after SIGTERM ({attempt:?}):\n{}",
            edge.logs()
        );
        tokio::time::sleep(POLL).await;
    };
    for _ in 0..3 {
        let attempt = TcpStream::connect(addr).await;
        assert!(attempt.is_err(), "a connection was accepted after refusals");
    }

    let (answer, done_at) = slow.await.expect("the slow request");
    assert_eq!((answer.status, answer.body.as_str()), (200, "slow"));
    assert!(
        refused_at < done_at,
        "the slow request ended before refusals"
    );

    let within = GRACE + SHUTDOWN_TIMEOUT;
    let remaining = within.saturating_sub(signalled.elapsed());
    let status = exit_within(&mut edge, remaining, "the edge").await;
    assert_eq!(status.code(), Some(0), "{}", edge.logs());
    eprintln!("the edge exited {:?} after SIGTERM", signalled.elapsed());
    assert_eq!(base.requests().len(), 1);
}
