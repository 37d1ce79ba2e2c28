//! A recording HTTP/1.1 server that stands in for the legacy app.
//!
//! It records every request exactly as it arrived (target bytes, header order,
//! name case and repeats, de-chunked body) so tests can assert what the edge
//! forwarded, and answers from a table that tests program per path prefix.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::wire::{self, WireReader};

/// One request as the upstream received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// The request target exactly as sent: path and query.
    pub target: String,
    /// `0` for HTTP/1.0, `1` for HTTP/1.1.
    pub version: u8,
    /// Headers in received order with their original name case and repeats.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked when it came chunked.
    pub body: Vec<u8>,
    /// Whether the body came with chunked transfer coding.
    pub chunked: bool,
    /// Which accepted connection carried it, counting from 1.
    pub connection: usize,
    /// The head's bytes exactly as received, for assertions on raw framing.
    pub raw_head: Vec<u8>,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        wire::first(&self.headers, name)
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        wire::all(&self.headers, name)
    }

    /// The target's path, before any `?`.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// The target's query, after the first `?`.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// The body as text, invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A programmed answer.
///
/// `Content-Length` is added unless the headers set it or `Transfer-Encoding`;
/// with `Transfer-Encoding: chunked` the body is sent chunked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// Sent in this order; repeats (such as two `Set-Cookie`) are kept.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait this long after reading the request before answering.
    pub delay: Option<Duration>,
    /// Record the request, then close the connection without answering.
    pub hang_up: bool,
}

impl Default for Reply {
    fn default() -> Self {
        Reply::new(200)
    }
}

impl Reply {
    /// An empty answer with `status`.
    pub fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: None,
            hang_up: false,
        }
    }

    /// No answer at all: the request is recorded and the connection closed, as an
    /// app that crashes while handling it would.
    pub fn hang_up() -> Reply {
        Reply {
            hang_up: true,
            ..Reply::new(502)
        }
    }

    /// A `text/plain` answer.
    pub fn text(status: u16, body: &str) -> Reply {
        Reply::new(status)
            .with_header("Content-Type", "text/plain")
            .with_body(body)
    }

    /// An `application/json` answer.
    pub fn json(status: u16, body: &str) -> Reply {
        Reply::new(status)
            .with_header("Content-Type", "application/json")
            .with_body(body)
    }

    /// Adds a header after those already set.
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.body = body.into();
        self
    }

    /// Delays the answer, to stand in for a slow legacy app.
    pub fn with_delay(mut self, delay: Duration) -> Reply {
        self.delay = Some(delay);
        self
    }
}

/// State shared between the handle and the connection tasks.
struct Shared {
    requests: Mutex<Vec<RecordedRequest>>,
    replies: Mutex<Vec<(String, Reply)>>,
    connections: AtomicUsize,
    recorded: watch::Sender<usize>,
}

impl Shared {
    /// Stores a request and wakes whoever waits for it.
    fn record(&self, request: RecordedRequest) {
        let mut requests = self.requests.lock().expect("requests lock");
        requests.push(request);
        self.recorded.send_replace(requests.len());
    }

    /// The reply with the longest prefix of `target`, or the default.
    fn reply_for(&self, target: &str) -> Reply {
        let replies = self.replies.lock().expect("replies lock");
        replies
            .iter()
            .filter(|(prefix, _)| target.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, reply)| reply.clone())
            .unwrap_or_else(|| Reply::text(200, &format!("upstream:{target}")))
    }
}

/// The running server; it stops when this value is dropped.
pub struct RecordingUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl RecordingUpstream {
    /// Binds 127.0.0.1:0 and starts serving.
    pub async fn start() -> RecordingUpstream {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        RecordingUpstream::start_at(addr)
            .await
            .expect("bind the recording upstream")
    }

    /// Binds `addr` and starts serving, e.g. again on the port of one that was stopped.
    pub async fn start_at(addr: SocketAddr) -> io::Result<RecordingUpstream> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            replies: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            recorded: watch::Sender::new(0),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(RecordingUpstream { addr, shared, task })
    }

    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers requests whose target starts with `path_prefix` with `reply`.
    ///
    /// The longest matching prefix wins; setting a prefix again replaces it.
    pub fn respond(&self, path_prefix: &str, reply: Reply) {
        let mut replies = self.shared.replies.lock().expect("replies lock");
        replies.retain(|(prefix, _)| prefix != path_prefix);
        replies.push((path_prefix.to_string(), reply));
    }

    /// Every request recorded so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().expect("requests lock").clone()
    }

    /// Waits until at least `n` requests arrived; panics after `deadline`.
    pub async fn wait_for_requests(&self, n: usize, deadline: Duration) -> Vec<RecordedRequest> {
        let mut recorded = self.shared.recorded.subscribe();
        let reached = tokio::time::timeout(deadline, recorded.wait_for(|count| *count >= n)).await;
        if !matches!(reached, Ok(Ok(_))) {
            panic!(
                "expected {n} upstream requests within {deadline:?}, got {:#?}",
                self.requests()
            );
        }
        self.requests()
    }

    /// How many TCP connections the server accepted.
    pub fn connection_count(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for RecordingUpstream {
    fn drop(&mut self) {
        // Aborting the accept task drops its JoinSet, which aborts every connection.
        self.task.abort();
    }
}

/// Accepts connections and serves each on its own task until aborted.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let id = shared.connections.fetch_add(1, Ordering::SeqCst) + 1;
                    connections.spawn(serve(stream, id, shared.clone()));
                }
                // Out of descriptors or similar: back off rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            // Reaps finished connections so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Serves requests on one connection until either side closes it.
async fn serve(stream: TcpStream, connection: usize, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    // No read timeout: pooled keep-alive connections may idle for the whole test.
    let mut reader = WireReader::new(read, None);
    loop {
        match exchange(&mut reader, &mut write, connection, &shared).await {
            Ok(true) => continue,
            Ok(false) => break,
            Err(err) => {
                let _ = write_bad_request(&mut write, &err).await;
                break;
            }
        }
    }
    let _ = write.shutdown().await;
}

/// Reads, records and answers one request; `Ok(false)` ends the connection.
async fn exchange(
    reader: &mut WireReader<tokio::net::tcp::OwnedReadHalf>,
    write: &mut OwnedWriteHalf,
    connection: usize,
    shared: &Shared,
) -> io::Result<bool> {
    let Some(raw_head) = reader.head().await? else {
        return Ok(false);
    };
    let mut request = parse_request(raw_head, connection)?;
    if wire::has_token(&request.headers, "expect", "100-continue") {
        write.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }
    request.body = if request.chunked {
        reader.chunked().await?
    } else {
        let length = wire::content_length(&request.headers)?.unwrap_or(0);
        reader.exact(length).await?
    };
    let keep_alive = wants_keep_alive(&request);
    let is_head = request.method == "HEAD";
    let reply = shared.reply_for(&request.target);
    shared.record(request);
    if reply.hang_up {
        return Ok(false);
    }

    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    write
        .write_all(&encode_reply(&reply, is_head, keep_alive))
        .await?;
    Ok(keep_alive)
}

/// Parses a request head; the body is filled in by the caller.
fn parse_request(raw_head: Vec<u8>, connection: usize) -> io::Result<RecordedRequest> {
    let mut slots = [httparse::EMPTY_HEADER; wire::MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut slots);
    match parsed.parse(&raw_head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(wire::invalid("partial request head")),
        Err(err) => return Err(wire::invalid(&format!("bad request head: {err}"))),
    }
    let headers = wire::header_pairs(parsed.headers);
    Ok(RecordedRequest {
        method: parsed.method.unwrap_or_default().to_string(),
        target: parsed.path.unwrap_or_default().to_string(),
        version: parsed.version.unwrap_or(1),
        chunked: wire::is_chunked(&headers),
        headers,
        body: Vec::new(),
        connection,
        raw_head,
    })
}

/// HTTP/1.1 stays open unless told to close; HTTP/1.0 only when asked.
fn wants_keep_alive(request: &RecordedRequest) -> bool {
    let headers = &request.headers;
    match request.version {
        0 => wire::has_token(headers, "connection", "keep-alive"),
        _ => !wire::has_token(headers, "connection", "close"),
    }
}

/// The bytes of `reply`, framed for the request it answers.
fn encode_reply(reply: &Reply, is_head: bool, keep_alive: bool) -> Vec<u8> {
    let status = reply.status;
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let bodiless = status < 200 || status == 204 || status == 304;
    let chunked = wire::is_chunked(&reply.headers);
    let framed = chunked || wire::first(&reply.headers, "content-length").is_some();
    if !bodiless && !framed {
        head.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
    }
    if !keep_alive && wire::first(&reply.headers, "connection").is_none() {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");

    let mut bytes = head.into_bytes();
    if !bodiless && !is_head {
        if chunked {
            bytes.extend(wire::encode_chunked(&reply.body));
        } else {
            bytes.extend_from_slice(&reply.body);
        }
    }
    bytes
}

/// Answers a request the server could not read, then the connection closes.
async fn write_bad_request(write: &mut OwnedWriteHalf, err: &io::Error) -> io::Result<()> {
    if err.kind() != io::ErrorKind::InvalidData {
        return Ok(());
    }
    let reply = Reply::text(400, &err.to_string());
    write.write_all(&encode_reply(&reply, false, false)).await
}

/// A reason phrase for the status codes tests commonly use.
fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{self, Connection};

    const WAIT: Duration = Duration::from_secs(5);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn records_a_chunked_post_exactly() {
        let upstream = RecordingUpstream::start().await;
        let raw = b"POST /legacy/form?a=1&b=%20 HTTP/1.1\r\nHost: x\r\n\
            x-Lower: 1\r\nX-Dup: one\r\nTransfer-Encoding: chunked\r\nX-Dup: two\r\n\
            Connection: close\r\n\r\n4\r\nabcd\r\n3;ext\r\nefg\r\n0\r\n\r\n";
        let response = client::send_raw(upstream.addr(), raw).await;
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), "upstream:/legacy/form?a=1&b=%20");
        assert_eq!(response.header("connection"), Some("close"));

        let recorded = &upstream.wait_for_requests(1, WAIT).await[0];
        assert_eq!(recorded.method, "POST");
        assert_eq!(recorded.target, "/legacy/form?a=1&b=%20");
        assert_eq!(
            (recorded.path(), recorded.query()),
            ("/legacy/form", Some("a=1&b=%20"))
        );
        assert!(recorded.chunked);
        assert_eq!(recorded.body, b"abcdefg");
        assert_eq!(recorded.headers[1], ("x-Lower".into(), "1".into()));
        assert_eq!(recorded.headers_named("x-dup"), ["one", "two"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keep_alive_pair_shares_one_connection() {
        let upstream = RecordingUpstream::start().await;
        upstream.respond(
            "/login",
            Reply::text(302, "moved")
                .with_header("Set-Cookie", "a=1")
                .with_header("Set-Cookie", "b=2"),
        );
        let mut conn = Connection::open(upstream.addr()).await;
        let first = conn.get("/login?next=/").await;
        let body = br#"{"k":1}"#;
        let second = conn.request("POST", "/other", &[], body).await;

        assert_eq!(first.status, 302);
        assert_eq!(first.headers_named("set-cookie"), ["a=1", "b=2"]);
        assert_eq!(second.text(), "upstream:/other");
        let recorded = upstream.wait_for_requests(2, WAIT).await;
        assert_eq!(recorded[1].body, body);
        assert!(!recorded[1].chunked);
        assert_eq!((recorded[0].connection, recorded[1].connection), (1, 1));
        assert_eq!(upstream.connection_count(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn longest_prefix_wins_and_head_gets_no_body() {
        let upstream = RecordingUpstream::start().await;
        upstream.respond("/a", Reply::text(201, "short"));
        upstream.respond("/a/b", Reply::json(202, "{}"));
        let long = client::get(upstream.addr(), "/a/b/c").await;
        let short = client::get(upstream.addr(), "/a/x").await;
        let head = client::request(upstream.addr(), "HEAD", "/a/x", &[], b"").await;

        assert_eq!((long.status, long.text().as_str()), (202, "{}"));
        assert_eq!((short.status, short.text().as_str()), (201, "short"));
        assert_eq!(head.header("content-length"), Some("5"));
        assert!(head.body.is_empty());
        assert_eq!(upstream.connection_count(), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn chunked_reply_is_sent_chunked() {
        let upstream = RecordingUpstream::start().await;
        let reply = Reply::text(200, "streamed").with_header("Transfer-Encoding", "chunked");
        upstream.respond("/s", reply);
        let response = client::get(upstream.addr(), "/s").await;
        assert!(response.chunked);
        assert_eq!(response.text(), "streamed");
        assert_eq!(response.header("content-length"), None);
    }
}
