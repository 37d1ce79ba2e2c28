//! Pass-through: requests no native route takes go to an upstream, and come back,
//! exactly as sent, apart from what the edge documents it adds or removes.
//!
//! Every test runs the real binary in front of one or two recording upstreams and
//! talks to it with the raw client, so repeats, order and bytes are all visible.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use switchyard_tests::{
    build_request, get, get_with, request, send_raw, Connection, Edge, EdgeConfig, RecordedRequest,
    RecordingUpstream, Reply, Response,
};

/// Longest wait for anything a test waits on: recorded requests, log lines.
const WAIT: Duration = Duration::from_secs(10);

/// Stores the route file must name; pass-through never connects to them.
const STORES: &str = r#"
[stores]
database_url = "postgres://postgres@127.0.0.1:5432/postgres"
redis_url = "redis://127.0.0.1:6379/0"
"#;

/// A route file whose only upstream is `legacy` at `${UP}`.
fn legacy_routes(read_timeout: &str) -> String {
    format!(
        r#"[server]
default_upstream = "legacy"
{STORES}
[upstreams.legacy]
addresses = ["${{UP}}"]
connect_timeout = "1s"
read_timeout = "{read_timeout}"
"#
    )
}

/// `legacy` at `${UP}` as the default, and `/admin/*` sent to `admin` at `${ADMIN}`.
fn admin_routes() -> String {
    let mut routes = legacy_routes("10s");
    routes.push_str(
        r#"
[upstreams.admin]
addresses = ["${ADMIN}"]
connect_timeout = "1s"
read_timeout = "10s"

[[routes]]
name = "admin"
path = "/admin/*"
upstream = "admin"
"#,
    );
    routes
}

/// An edge whose default upstream is `up`.
async fn edge_in_front_of(up: SocketAddr) -> Edge {
    edge_with_timeout(up, "10s").await
}

/// Like [`edge_in_front_of`], with the upstream's `read_timeout`.
async fn edge_with_timeout(up: SocketAddr, read_timeout: &str) -> Edge {
    let config = EdgeConfig::new(legacy_routes(read_timeout)).env("UP", up.to_string());
    Edge::start(config).await
}

/// `len` bytes that cover every byte value, zeros and invalid UTF-8 included.
fn binary_bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|i| {
            // A cheap xorshift, with every 7th byte a zero so NULs are plentiful.
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            if i % 7 == 0 {
                0
            } else {
                (state >> 24) as u8
            }
        })
        .collect()
}

/// Compares bodies without dumping megabytes into the failure message.
fn assert_same_bytes(got: &[u8], want: &[u8], what: &str) {
    if got == want {
        return;
    }
    let first_difference = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    panic!(
        "{what}: got {} bytes, expected {}; first difference at offset {first_difference}",
        got.len(),
        want.len()
    );
}

/// Raw value bytes of every `name` header in a recorded head, leading OWS removed.
fn raw_header_values(raw_head: &[u8], name: &str) -> Vec<Vec<u8>> {
    raw_head
        .split(|&b| b == b'\n')
        .skip(1)
        .filter_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let colon = line.iter().position(|&b| b == b':')?;
            let (field, rest) = line.split_at(colon);
            if !field.eq_ignore_ascii_case(name.as_bytes()) {
                return None;
            }
            let value = &rest[1..];
            let start = value
                .iter()
                .position(|&b| b != b' ' && b != b'\t')
                .unwrap_or(value.len());
            Some(value[start..].to_vec())
        })
        .collect()
}

/// The comma-separated tokens of every `Connection` header, lower-cased.
fn connection_tokens(headers: &[&str]) -> Vec<String> {
    headers
        .iter()
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Access log lines that carry `request_id`.
fn access_lines(logs: &str, request_id: &str) -> Vec<String> {
    let needle = format!("request_id={request_id} ");
    logs.lines()
        .filter(|line| line.contains("switchyard::access") && line.contains(&needle))
        .map(str::to_owned)
        .collect()
}

/// Asserts the edge answered with its own JSON problem `code` and `status`.
fn assert_problem(response: &Response, status: u16, code: &str) {
    assert_eq!(response.status, status, "body: {}", response.text());
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{response:?}"
    );
    assert_eq!(response.header("x-served-by"), Some("native"));
    let request_id = response.header("x-request-id").unwrap_or_default();
    assert!(!request_id.is_empty(), "no X-Request-Id on {response:?}");
    let body = response.json();
    assert_eq!(body["error"], code, "body: {body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "no message in {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn method_path_and_query_reach_the_upstream_as_sent() {
    let upstream = RecordingUpstream::start().await;
    let edge = edge_in_front_of(upstream.addr()).await;
    let long_query: String = (0..400).map(|i| format!("k{i}=v%20{i}&")).collect();
    let cases: Vec<(&str, String)> = vec![
        ("GET", "/a/b%2Fc?x=1&x=2&y=%20".into()),
        ("DELETE", "/items/42".into()),
        ("PATCH", "/items/42?fields=name,price".into()),
        (
            "OPTIONS",
            "/cors/preflight?origin=http%3A%2F%2Fa.test".into(),
        ),
        ("PUT", "/files/r%C3%A9sum%C3%A9.pdf?overwrite".into()),
        ("GET", "/search?q=a%2Bb+c&empty=&flag&nested=a?b/c".into()),
        ("GET", "/legacy/page.php;jsessionid=Ab1?x=%7E~".into()),
        ("GET", "/trailing/slash/".into()),
        ("GET", "/empty/query?".into()),
        ("GET", "/a/./b/../c".into()),
        ("GET", "//double//slash".into()),
        ("GET", "/%7e%7E?x={y}|`^".into()),
        ("GET", format!("/report?{long_query}end=1")),
        ("HEAD", "/a/b%2Fc?x=1".into()),
    ];

    for (method, target) in &cases {
        let response = request(edge.addr(), method, target, &[], b"").await;
        assert_eq!(response.status, 200, "{method} {target}: {response:?}");
        // The recording upstream echoes the target it got; HEAD gets only its length.
        let echo = format!("upstream:{target}");
        if *method == "HEAD" {
            let length = echo.len().to_string();
            assert_eq!(response.header("content-length"), Some(length.as_str()));
            assert!(response.body.is_empty(), "HEAD got a body: {response:?}");
        } else {
            assert_eq!(response.text(), echo, "{method}");
        }
    }

    let recorded = upstream.wait_for_requests(cases.len(), WAIT).await;
    let got: Vec<(&str, &str)> = recorded
        .iter()
        .map(|r| (r.method.as_str(), r.target.as_str()))
        .collect();
    let want: Vec<(&str, &str)> = cases.iter().map(|(m, t)| (*m, t.as_str())).collect();
    assert_eq!(got, want);
    assert!(recorded.iter().all(|r| r.version == 1), "{recorded:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_headers_arrive_as_sent_with_forwarding_headers_added() {
    let upstream = RecordingUpstream::start().await;
    let edge = edge_in_front_of(upstream.addr()).await;
    // Includes obs-text bytes (0xE9, 0xFF) in a header value, which HTTP allows.
    let opaque: &[u8] = b"a=1;  b=\"two words\",\tc/d \xe9\xff end";
    let mut raw = Vec::new();
    raw.extend_from_slice(
        b"GET /profile?tab=1 HTTP/1.1\r\n\
          Host: admin.legacy.test:8443\r\n\
          X-Dup: first\r\n\
          Cookie: session=abc123; theme=dark\r\n\
          Authorization: Bearer abc.def-ghi_jkl==\r\n\
          X-Dup: second\r\n\
          X-Forwarded-For: 6.6.6.6\r\n\
          X-Forwarded-For: 7.7.7.7, 8.8.8.8\r\n\
          X-Forwarded-Proto: https\r\n\
          X-Forwarded-Host: spoofed.example\r\n\
          X-Request-Id: trace-123\r\n\
          Connection: close\r\n\
          X-Opaque: ",
    );
    raw.extend_from_slice(opaque);
    raw.extend_from_slice(b"\r\n\r\n");

    let response = send_raw(edge.addr(), &raw).await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.header("x-request-id"), Some("trace-123"));

    let seen = &upstream.wait_for_requests(1, WAIT).await[0];
    let expected: &[(&str, &[&str])] = &[
        ("host", &["admin.legacy.test:8443"]),
        ("x-dup", &["first", "second"]),
        ("cookie", &["session=abc123; theme=dark"]),
        ("authorization", &["Bearer abc.def-ghi_jkl=="]),
        ("x-forwarded-for", &["127.0.0.1"]),
        ("x-forwarded-proto", &["http"]),
        ("x-forwarded-host", &["admin.legacy.test:8443"]),
        ("x-request-id", &["trace-123"]),
    ];
    for (name, values) in expected {
        assert_eq!(seen.headers_named(name), *values, "{name} in {seen:#?}");
    }
    assert_eq!(
        raw_header_values(&seen.raw_head, "x-opaque"),
        [opaque.to_vec()],
        "X-Opaque's value bytes changed; head: {:?}",
        String::from_utf8_lossy(&seen.raw_head)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_request_id_is_the_one_the_upstream_saw() {
    let upstream = RecordingUpstream::start().await;
    let edge = edge_in_front_of(upstream.addr()).await;
    // No id, and ids the edge must not believe: it makes its own for these.
    let offered: [Option<&str>; 3] = [None, Some("has space"), Some("")];
    for offer in offered {
        let headers: Vec<(&str, &str)> = offer.map(|id| ("X-Request-Id", id)).into_iter().collect();
        let response = get_with(edge.addr(), "/whoami", &headers).await;
        assert_eq!(response.status, 200, "{offer:?}: {response:?}");
        let id = response
            .header("x-request-id")
            .unwrap_or_default()
            .to_owned();
        assert!(
            !id.is_empty() && Some(id.as_str()) != offer,
            "{offer:?} → {id:?}"
        );
        let seen = upstream.requests().pop().expect("a recorded request");
        assert_eq!(
            seen.headers_named("x-request-id"),
            [id.as_str()],
            "{offer:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_by_hop_request_headers_are_dropped() {
    let upstream = RecordingUpstream::start().await;
    let edge = edge_in_front_of(upstream.addr()).await;
    // (request head lines, headers that must not arrive, header that must arrive)
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "Connection: keep-alive, X-Secret-Hop\r\nX-Secret-Hop: 1\r\n\
             Keep-Alive: timeout=5, max=100\r\nTE: trailers\r\n\
             Proxy-Connection: keep-alive\r\nX-End-To-End: kept\r\n",
            &["x-secret-hop", "keep-alive", "te", "proxy-connection"],
            "x-end-to-end",
        ),
        (
            // Nominations spread over two Connection lines, in any case.
            "Connection: X-Hop-A\r\nX-Hop-A: a\r\nX-Kept: yes\r\n\
             Connection: keep-alive, x-hop-b\r\nX-HOP-B: b\r\n",
            &["x-hop-a", "x-hop-b"],
            "x-kept",
        ),
    ];

    let mut conn = Connection::open(edge.addr()).await;
    for (i, (lines, dropped, kept)) in cases.iter().enumerate() {
        let raw = format!("GET /hop/{i} HTTP/1.1\r\nHost: legacy.test\r\n{lines}\r\n");
        let response = conn.send_raw(raw.as_bytes()).await;
        assert_eq!(response.status, 200, "case {i}: {response:?}");

        let seen = upstream.wait_for_requests(i + 1, WAIT).await.remove(i);
        for name in *dropped {
            assert!(
                seen.headers_named(name).is_empty(),
                "case {i}: {name} reached the upstream: {seen:#?}"
            );
        }
        let nominated = connection_tokens(&seen.headers_named("connection"));
        assert!(
            nominated.iter().all(|t| t == "keep-alive" || t == "close"),
            "case {i}: Connection names client hop headers upstream: {nominated:?}"
        );
        assert_eq!(seen.headers_named(kept).len(), 1, "case {i}: {seen:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_length_request_bodies_arrive_byte_exact() {
    let upstream = RecordingUpstream::start().await;
    let edge = edge_in_front_of(upstream.addr()).await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("/upload/small", binary_bytes(4096, 7)),
        ("/upload/zeros", vec![0; 1000]),
        ("/upload/large", binary_bytes(5 * 1024 * 1024, 11)),
    ];
    let headers = [("Content-Type", "application/octet-stream")];

    for (i, (path, body)) in cases.iter().enumerate() {
        let response = request(edge.addr(), "POST", path, &headers, body).await;
        assert_eq!(response.status, 200, "{path}: {response:?}");
        let seen = upstream.wait_for_requests(i + 1, WAIT).await.remove(i);
        assert_eq!(seen.target, *path);
        assert_same_bytes(&seen.body, body, path);
        let length = seen.header("content-length").map(str::to_owned);
        assert!(
            seen.chunked || length == Some(body.len().to_string()),
            "{path}: framed with Content-Length {length:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_request_body_arrives_complete() {
    let upstream = RecordingUpstream::start().await;
    let edge = edge_in_front_of(upstream.addr()).await;
    let big = binary_bytes(100_000, 3);
    let chunks: Vec<&[u8]> = vec![b"hello ", b"\x00\xff\x00\xc3(", &big, b"!"];

    let mut conn = Connection::open(edge.addr()).await;
    let head = build_request(
        "legacy.test",
        "POST",
        "/upload/chunked?part=1",
        &[
            ("Transfer-Encoding", "chunked"),
            ("Content-Type", "application/octet-stream"),
        ],
        b"",
    );
    conn.write_raw(&head).await.expect("write the head");
    for (i, chunk) in chunks.iter().enumerate() {
        // One chunk carries an extension, which is valid and means nothing here.
        let size_line = match i {
            1 => format!("{:x};note=ext\r\n", chunk.len()),
            _ => format!("{:X}\r\n", chunk.len()),
        };
        let mut bytes = size_line.into_bytes();
        bytes.extend_from_slice(chunk);
        bytes.extend_from_slice(b"\r\n");
        conn.write_raw(&bytes).await.expect("write a chunk");
    }
    conn.write_raw(b"0\r\n\r\n")
        .await
        .expect("write the last chunk");
    let response = conn.read_response(false).await.expect("a response");
    assert_eq!(response.status, 200, "{response:?}");

    let seen = &upstream.wait_for_requests(1, WAIT).await[0];
    assert_eq!(
        (seen.method.as_str(), seen.target.as_str()),
        ("POST", "/upload/chunked?part=1")
    );
    assert_same_bytes(&seen.body, &chunks.concat(), "chunked request body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_bodies_reach_the_client_byte_exact() {
    let upstream = RecordingUpstream::start().await;
    let edge = edge_in_front_of(upstream.addr()).await;
    let octets = ("Content-Type", "application/octet-stream");
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("/download/binary", binary_bytes(70_000, 5), false),
        ("/download/large", binary_bytes(5 * 1024 * 1024, 9), false),
        ("/download/chunked", binary_bytes(200_000, 13), true),
        ("/download/empty", Vec::new(), false),
    ];
    for (path, body, chunked) in &cases {
        let mut reply = Reply::new(200)
            .with_header(octets.0, octets.1)
            .with_body(body.clone());
        if *chunked {
            reply = reply.with_header("Transfer-Encoding", "chunked");
        }
        upstream.respond(path, reply);
    }

    for (path, body, _) in &cases {
        let response = get(edge.addr(), path).await;
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.header("content-type"), Some(octets.1), "{path}");
        assert_same_bytes(&response.body, body, path);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_status_and_headers_reach_the_client() {
    let upstream = RecordingUpstream::start().await;
    let edge = edge_in_front_of(upstream.addr()).await;
    let cases: &[(&str, u16, &str)] = &[
        ("/made", 201, r#"{"id":7}"#),
        ("/missing", 404, "legacy: no such page"),
        ("/broken", 500, "legacy stack trace, verbatim"),
    ];
    for (path, status, body) in cases {
        let reply = Reply::new(*status)
            .with_header("Content-Type", "text/x-legacy")
            .with_header("Set-Cookie", "a=1; Path=/; HttpOnly")
            .with_header("X-Legacy-Version", "4.2 (build 17)")
            .with_header("Set-Cookie", "b=2, with comma; Max-Age=60")
            .with_header("Connection", "X-Up-Hop")
            .with_header("X-Up-Hop", "edge-to-upstream only")
            .with_header("Keep-Alive", "timeout=5")
            // The edge's own stamps win over anything the upstream claims.
            .with_header("X-Served-By", "legacy-app")
            .with_header("X-Request-Id", "made-up-by-upstream")
            .with_body(*body);
        upstream.respond(path, reply);
    }

    for (i, (path, status, body)) in cases.iter().enumerate() {
        let response = get(edge.addr(), path).await;
        let seen = upstream.wait_for_requests(i + 1, WAIT).await.remove(i);
        assert_eq!(response.status, *status, "{path}: {response:?}");
        assert_eq!(response.text(), *body, "{path}");
        assert_eq!(response.header("content-type"), Some("text/x-legacy"));
        assert_eq!(
            response.headers_named("set-cookie"),
            ["a=1; Path=/; HttpOnly", "b=2, with comma; Max-Age=60"],
            "{path}"
        );
        assert_eq!(
            response.headers_named("x-legacy-version"),
            ["4.2 (build 17)"]
        );
        assert_eq!(
            response.headers_named("x-served-by"),
            ["upstream"],
            "{path}"
        );
        let sent_id = seen.header("x-request-id").expect("upstream saw an id");
        assert_eq!(response.headers_named("x-request-id"), [sent_id], "{path}");

        for name in ["x-up-hop", "keep-alive"] {
            assert!(
                response.headers_named(name).is_empty(),
                "{path}: {name} reached the client: {response:?}"
            );
        }
        let nominated = connection_tokens(&response.headers_named("connection"));
        assert!(
            nominated.iter().all(|t| t == "keep-alive" || t == "close"),
            "{path}: the client's Connection names upstream hop headers: {nominated:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_upstream_is_a_502_problem() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a port");
    let dead = listener.local_addr().expect("its address");
    drop(listener);
    let edge = edge_in_front_of(dead).await;

    let headers = [("X-Request-Id", "refused-1")];
    let response = get_with(edge.addr(), "/anything?x=1", &headers).await;
    assert_problem(&response, 502, "upstream_unavailable");
    assert_eq!(response.header("x-request-id"), Some("refused-1"));

    let logs = edge.wait_for_log("request_id=refused-1 ", WAIT).await;
    let lines = access_lines(&logs, "refused-1");
    assert_eq!(lines.len(), 1, "{logs}");
    for part in [
        "served_by=native",
        "status=502",
        "error=upstream_unavailable",
    ] {
        assert!(lines[0].contains(part), "{part} missing in {}", lines[0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_slower_than_read_timeout_is_a_504_problem() {
    let upstream = RecordingUpstream::start().await;
    let delay = Duration::from_secs(3);
    upstream.respond("/slow", Reply::text(200, "too late").with_delay(delay));
    let edge = edge_with_timeout(upstream.addr(), "300ms").await;

    let started = Instant::now();
    let headers = [("X-Request-Id", "slow-1")];
    let response = get_with(edge.addr(), "/slow/report", &headers).await;
    let took = started.elapsed();
    assert_problem(&response, 504, "upstream_timeout");
    assert!(
        took < delay,
        "the edge waited {took:?}, not its 300ms read timeout"
    );
    // The request did reach the upstream: it was the answer that was late.
    let seen = upstream.wait_for_requests(1, WAIT).await;
    assert_eq!(seen[0].target, "/slow/report");

    let logs = edge.wait_for_log("request_id=slow-1 ", WAIT).await;
    let lines = access_lines(&logs, "slow-1");
    assert_eq!(lines.len(), 1, "{logs}");
    for part in ["served_by=native", "status=504", "error=upstream_timeout"] {
        assert!(lines[0].contains(part), "{part} missing in {}", lines[0]);
    }
}

/// An upstream that reads each request head and closes without answering.
///
/// Serves at most `limit` connections; the task ends with the test's runtime.
async fn hang_up_upstream(limit: usize) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind the hang-up upstream");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        for _ in 0..limit {
            let Ok(Ok((mut stream, _))) = tokio::time::timeout(WAIT, listener.accept()).await
            else {
                return;
            };
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                let read = tokio::time::timeout(WAIT, stream.read(&mut buf)).await;
                match read {
                    Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
                    _ => break,
                }
            }
            drop(stream);
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_closing_without_an_answer_is_a_502_problem() {
    let up = hang_up_upstream(8).await;
    let edge = edge_in_front_of(up).await;

    let response = get(edge.addr(), "/hangs/up").await;
    assert_problem(&response, 502, "upstream_unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_connections_are_pooled() {
    let upstream = RecordingUpstream::start().await;
    // One worker thread. With one event loop per thread, a client that reconnects the
    // moment it has its answer can land on the other thread before the first has put
    // its upstream connection back, and rightly gets a new one; that race says nothing
    // about pooling.
    let config = EdgeConfig::new(legacy_routes("10s"))
        .env("UP", upstream.addr().to_string())
        .conf_extra("threads: 1");
    let edge = Edge::start(config).await;

    let mut conn = Connection::open(edge.addr()).await;
    for i in 0..20 {
        let response = conn.get(&format!("/pooled/kept/{i}")).await;
        assert_eq!(response.status, 200, "request {i} on one client connection");
    }
    upstream.wait_for_requests(20, WAIT).await;
    let after_one_client = upstream.connection_count();
    assert!(
        after_one_client < 5,
        "20 requests on one client connection used {after_one_client} upstream connections"
    );

    for i in 0..20 {
        let response = get(edge.addr(), &format!("/pooled/fresh/{i}")).await;
        assert_eq!(
            response.status, 200,
            "request {i} on its own client connection"
        );
    }
    let recorded = upstream.wait_for_requests(40, WAIT).await;
    let total = upstream.connection_count();
    let mut used: Vec<usize> = recorded.iter().map(|r| r.connection).collect();
    used.dedup();
    assert!(
        total < 5,
        "40 requests used {total} upstream connections, in order: {used:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_pick_their_upstream() {
    let legacy = RecordingUpstream::start().await;
    let admin = RecordingUpstream::start().await;
    legacy.respond("/", Reply::text(200, "from legacy"));
    admin.respond("/", Reply::text(200, "from admin"));
    let config = EdgeConfig::new(admin_routes())
        .env("UP", legacy.addr().to_string())
        .env("ADMIN", admin.addr().to_string());
    let edge = Edge::start(config).await;

    // (method, target, expected upstream)
    let cases: &[(&str, &str, &str)] = &[
        ("GET", "/admin/x", "admin"),
        ("GET", "/other", "legacy"),
        ("POST", "/admin/users/7?notify=1", "admin"),
        ("GET", "/admin", "admin"),
        ("GET", "/administrator", "legacy"),
        ("GET", "/", "legacy"),
    ];
    for (method, target, expected) in cases {
        let before = (legacy.requests().len(), admin.requests().len());
        let response = request(edge.addr(), method, target, &[], b"").await;
        assert_eq!(response.status, 200, "{method} {target}");
        assert_eq!(
            response.text(),
            format!("from {expected}"),
            "{method} {target}"
        );
        let (taker, other) = match *expected {
            "admin" => (&admin, &legacy),
            _ => (&legacy, &admin),
        };
        let index = if *expected == "admin" {
            before.1
        } else {
            before.0
        };
        let seen: RecordedRequest = taker.wait_for_requests(index + 1, WAIT).await.remove(index);
        assert_eq!(
            (seen.method.as_str(), seen.target.as_str()),
            (*method, *target)
        );
        let other_before = if *expected == "admin" {
            before.0
        } else {
            before.1
        };
        assert_eq!(
            other.requests().len(),
            other_before,
            "{target} also went elsewhere"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_has_one_line_per_request() {
    let legacy = RecordingUpstream::start().await;
    let admin = RecordingUpstream::start().await;
    legacy.respond("/gone", Reply::text(404, "gone"));
    let config = EdgeConfig::new(admin_routes())
        .env("UP", legacy.addr().to_string())
        .env("ADMIN", admin.addr().to_string());
    let edge = Edge::start(config).await;

    // (request id, method, target, route, status)
    let cases: &[(&str, &str, &str, &str, u16)] = &[
        ("log-1", "GET", "/page?x=1", "-", 200),
        ("log-2", "POST", "/admin/save", "admin", 200),
        ("log-3", "GET", "/gone", "-", 404),
        ("log-4", "DELETE", "/admin/users/9", "admin", 200),
    ];
    for (id, method, target, _, status) in cases {
        let headers = [("X-Request-Id", *id)];
        let response = request(edge.addr(), method, target, &headers, b"").await;
        assert_eq!(response.status, *status, "{id}");
    }

    let mut logs = String::new();
    for (id, ..) in cases {
        logs = edge.wait_for_log(&format!("request_id={id} "), WAIT).await;
    }
    for (id, method, target, route, status) in cases {
        let lines = access_lines(&logs, id);
        assert_eq!(lines.len(), 1, "access lines for {id}:\n{logs}");
        let expected = [
            format!("method={method}"),
            format!("path={target:?}"),
            format!("route={route} "),
            "served_by=upstream".to_owned(),
            format!("status={status} "),
        ];
        for part in expected {
            assert!(lines[0].contains(&part), "{part} missing in {}", lines[0]);
        }
    }
    let all = logs.lines().filter(|l| l.contains("switchyard::access"));
    assert_eq!(all.count(), cases.len(), "{logs}");
}
