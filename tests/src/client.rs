//! A raw HTTP/1.1 client, so tests control the exact bytes sent and see every
//! header received, repeats and order included.
//!
//! Off-the-shelf clients normalise requests and merge headers, which hides
//! exactly what the edge must get right. Every read is bounded by
//! [`READ_TIMEOUT`] so a stuck server fails the test instead of hanging it.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use crate::wire::{self, WireReader};

/// How long any single read or connect may stall.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed response; headers keep their order, name case and repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    /// The body after de-chunking.
    pub body: Vec<u8>,
    /// Whether the body came with chunked transfer coding.
    pub chunked: bool,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        wire::first(&self.headers, name)
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        wire::all(&self.headers, name)
    }

    /// The body as text, invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the status and body when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!(
                "response {} is not JSON ({err}): {}",
                self.status,
                self.text()
            )
        })
    }
}

/// Sends `bytes` as-is on a new connection and reads one response.
pub async fn send_raw(addr: SocketAddr, bytes: &[u8]) -> Response {
    try_send_raw(addr, bytes)
        .await
        .unwrap_or_else(|err| panic!("raw request to {addr} failed: {err}"))
}

/// Like [`send_raw`], but hands back I/O errors such as a reset or early close.
pub async fn try_send_raw(addr: SocketAddr, bytes: &[u8]) -> io::Result<Response> {
    let mut conn = Connection::try_open(addr).await?;
    conn.try_send_raw(bytes).await
}

/// `GET path` with `Connection: close`.
pub async fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, &[], b"").await
}

/// `GET path` with extra headers.
pub async fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    request(addr, "GET", path, headers, b"").await
}

/// `POST path` with a JSON body and `Content-Type: application/json`.
pub async fn post_json(addr: SocketAddr, path: &str, body: &str) -> Response {
    let headers = [("Content-Type", "application/json")];
    request(addr, "POST", path, &headers, body.as_bytes()).await
}

/// Any request on a new connection; adds `Connection: close` unless given.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    if !all
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("connection"))
    {
        all.push(("Connection", "close"));
    }
    let bytes = build_request(&addr.to_string(), method, path, &all, body);
    send_raw(addr, &bytes).await
}

/// Encodes a request: headers as given, plus `Host` and `Content-Length` when
/// the caller did not set them (no `Content-Length` next to `Transfer-Encoding`).
pub fn build_request(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !has("host") {
        head.push_str(&format!("Host: {host}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let wants_length = !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH");
    if wants_length && !has("content-length") && !has("transfer-encoding") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A connection kept open across several requests (keep-alive, pipelining).
pub struct Connection {
    addr: SocketAddr,
    reader: WireReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Connection {
    /// Connects to `addr`, panicking on failure.
    pub async fn open(addr: SocketAddr) -> Connection {
        Connection::try_open(addr)
            .await
            .unwrap_or_else(|err| panic!("connect to {addr}: {err}"))
    }

    /// Connects to `addr` within [`READ_TIMEOUT`].
    pub async fn try_open(addr: SocketAddr) -> io::Result<Connection> {
        let stream = tokio::time::timeout(READ_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        stream.set_nodelay(true)?;
        let (read, writer) = stream.into_split();
        Ok(Connection {
            addr,
            reader: WireReader::new(read, Some(READ_TIMEOUT)),
            writer,
        })
    }

    /// Sends a request without `Connection: close`, so the socket stays usable.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let bytes = build_request(&self.addr.to_string(), method, path, headers, body);
        self.send_raw(&bytes).await
    }

    /// `GET path` on this connection.
    pub async fn get(&mut self, path: &str) -> Response {
        self.request("GET", path, &[], b"").await
    }

    /// Writes `bytes` and reads one response, panicking on I/O errors.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Response {
        let addr = self.addr;
        self.try_send_raw(bytes)
            .await
            .unwrap_or_else(|err| panic!("request to {addr} failed: {err}"))
    }

    /// Writes `bytes` and reads one response.
    pub async fn try_send_raw(&mut self, bytes: &[u8]) -> io::Result<Response> {
        self.write_raw(bytes).await?;
        self.read_response(bytes.starts_with(b"HEAD ")).await
    }

    /// Writes bytes without reading, e.g. part of a request or a pipelined batch.
    pub async fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes).await?;
        self.writer.flush().await
    }

    /// Reads the next response; `to_head` says it answers a HEAD (so no body).
    pub async fn read_response(&mut self, to_head: bool) -> io::Result<Response> {
        read_response(&mut self.reader, to_head).await
    }

    /// Whether the server closes the connection within `within` (at most
    /// [`READ_TIMEOUT`]); bytes that arrive meanwhile are discarded.
    pub async fn wait_closed(&mut self, within: Duration) -> bool {
        tokio::time::timeout(within, self.reader.closed())
            .await
            .unwrap_or(false)
    }
}

/// Reads one final response, skipping interim `1xx` ones such as `100 Continue`.
pub(crate) async fn read_response<R>(
    reader: &mut WireReader<R>,
    to_head: bool,
) -> io::Result<Response>
where
    R: tokio::io::AsyncRead + Unpin,
{
    loop {
        let head = reader
            .head()
            .await?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "no response"))?;
        let head = parse_head(&head)?;
        // 101 switches protocols, so it is final for this client.
        if (100..200).contains(&head.status) && head.status != 101 {
            continue;
        }
        return read_body(reader, head, to_head).await;
    }
}

/// The parts of a response head.
struct Head {
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
}

/// Parses a response head.
fn parse_head(head: &[u8]) -> io::Result<Head> {
    let mut slots = [httparse::EMPTY_HEADER; wire::MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut slots);
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(wire::invalid("partial response head")),
        Err(err) => return Err(wire::invalid(&format!("bad response head: {err}"))),
    }
    Ok(Head {
        status: parsed.code.unwrap_or_default(),
        reason: parsed.reason.unwrap_or_default().to_string(),
        headers: wire::header_pairs(parsed.headers),
    })
}

/// Reads the body as the status and headers frame it.
async fn read_body<R>(reader: &mut WireReader<R>, head: Head, to_head: bool) -> io::Result<Response>
where
    R: tokio::io::AsyncRead + Unpin,
{
    let Head {
        status,
        reason,
        headers,
    } = head;
    let bodiless = to_head || status == 204 || status == 304 || status < 200;
    let chunked = !bodiless && wire::is_chunked(&headers);
    let body = if bodiless {
        Vec::new()
    } else if chunked {
        reader.chunked().await?
    } else if let Some(length) = wire::content_length(&headers)? {
        reader.exact(length).await?
    } else {
        reader.until_close().await?
    };
    Ok(Response {
        status,
        reason,
        headers,
        body,
        chunked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `bytes` as the server's side of one exchange.
    async fn parse(bytes: &[u8], to_head: bool) -> io::Result<Response> {
        let mut reader = WireReader::new(bytes, Some(READ_TIMEOUT));
        read_response(&mut reader, to_head).await
    }

    #[tokio::test]
    async fn content_length_frames_the_body_and_leaves_the_rest() {
        let bytes =
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 204 No Content\r\n\r\n";
        let mut reader = WireReader::new(&bytes[..], Some(READ_TIMEOUT));
        let first = read_response(&mut reader, false).await.unwrap();
        assert_eq!((first.status, first.text().as_str()), (200, "hello"));
        let second = read_response(&mut reader, false).await.unwrap();
        assert_eq!((second.status, second.body.len()), (204, 0));
    }

    #[tokio::test]
    async fn chunked_body_is_dechunked() {
        let bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
            5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n";
        let response = parse(bytes, false).await.unwrap();
        assert!(response.chunked);
        assert_eq!(response.text(), "hello, world");
    }

    #[tokio::test]
    async fn close_delimited_body_reads_until_close() {
        let bytes = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
        let response = parse(bytes, false).await.unwrap();
        assert_eq!(response.text(), "until the end");
        assert!(!response.chunked);
    }

    #[tokio::test]
    async fn repeated_headers_keep_order_and_case() {
        let bytes = b"HTTP/1.1 302 Found\r\nSet-Cookie: a=1\r\nlocation: /x\r\n\
            set-cookie: b=2\r\nContent-Length: 0\r\n\r\n";
        let response = parse(bytes, false).await.unwrap();
        assert_eq!(response.headers_named("SET-COOKIE"), ["a=1", "b=2"]);
        assert_eq!(response.header("Location"), Some("/x"));
        assert_eq!(response.headers[2], ("set-cookie".into(), "b=2".into()));
    }

    #[tokio::test]
    async fn head_and_interim_responses_have_no_body() {
        let bytes = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n";
        let response = parse(bytes, true).await.unwrap();
        assert_eq!((response.status, response.body.len()), (200, 0));
        assert_eq!(response.header("content-length"), Some("42"));
    }

    #[tokio::test]
    async fn truncated_body_is_an_error() {
        let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort";
        let err = parse(bytes, false).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn build_request_adds_host_and_length_only_when_missing() {
        let bytes = build_request("h:1", "POST", "/p?q=1", &[("X-A", "1")], b"{}");
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "POST /p?q=1 HTTP/1.1\r\nHost: h:1\r\nX-A: 1\r\nContent-Length: 2\r\n\r\n{}"
        );
        let chunked = [("host", "x"), ("Transfer-Encoding", "chunked")];
        let bytes = build_request("h:1", "POST", "/", &chunked, b"0\r\n\r\n");
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains("Host: h:1") && !text.contains("Content-Length"));
    }
}
