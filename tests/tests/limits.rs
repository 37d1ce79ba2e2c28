//! Per-route limits and client identity: rate limits answer `429`, bodies over a
//! route's `max_body` answer `413` (declared or streamed), trusted proxies are the only
//! peers whose `X-Forwarded-For` is believed, and the access log can be JSON lines.

use std::time::Duration;

use switchyard_tests::{get, get_with, request, Connection, Edge, EdgeConfig, RecordingUpstream};

async fn edge(upstream: &RecordingUpstream, server_extra: &str, routes: &str) -> Edge {
    let toml = format!(
        "[server]\ndefault_upstream = \"legacy\"\n{server_extra}\n\
         [upstreams.legacy]\naddresses = [\"{}\"]\n{routes}",
        upstream.addr()
    );
    Edge::start(EdgeConfig::new(toml)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_rate_gets_429() {
    let upstream = RecordingUpstream::start().await;
    let routes = "[[routes]]\npath = \"/limited/*\"\nupstream = \"legacy\"\n\
                  [routes.rate_limit]\nrequests = 3\nper = \"1m\"\n";
    let edge = edge(&upstream, "", routes).await;

    for _ in 0..3 {
        assert_eq!(get(edge.addr(), "/limited/x").await.status, 200);
    }
    let refused = get(edge.addr(), "/limited/x").await;
    assert_eq!(refused.status, 429, "{}", refused.text());
    assert_eq!(refused.json()["error"], "rate_limited");
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(upstream.requests().len(), 3);

    // Other routes are not limited.
    assert_eq!(get(edge.addr(), "/free").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_through_bodies_over_max_body_are_413() {
    let upstream = RecordingUpstream::start().await;
    let routes = "[[routes]]\npath = \"/upload\"\nupstream = \"legacy\"\nmax_body = 1000\n";
    let edge = edge(&upstream, "", routes).await;

    let small = request(edge.addr(), "POST", "/upload", &[], &[b'a'; 1000]).await;
    assert_eq!(small.status, 200);

    let declared = request(edge.addr(), "POST", "/upload", &[], &[b'a'; 1001]).await;
    assert_eq!(declared.status, 413, "{}", declared.text());
    assert_eq!(declared.json()["error"], "body_too_large");

    let mut connection = Connection::open(edge.addr()).await;
    let head = "POST /upload HTTP/1.1\r\nHost: edge\r\nTransfer-Encoding: chunked\r\n\r\n";
    let chunk = format!("400\r\n{}\r\n", "b".repeat(0x400));
    let raw = format!("{head}{chunk}{chunk}0\r\n\r\n");
    let _ = connection.write_raw(raw.as_bytes()).await;
    let streamed = connection.read_response(false).await.unwrap();
    assert_eq!(streamed.status, 413, "{}", streamed.text());
    assert_eq!(streamed.json()["error"], "body_too_large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let upstream = RecordingUpstream::start().await;
    let xff = [("X-Forwarded-For", "203.0.113.9, 10.1.1.1")];

    let untrusted = edge(&upstream, "", "").await;
    get_with(untrusted.addr(), "/a", &xff).await;
    let seen = upstream.wait_for_requests(1, Duration::from_secs(5)).await;
    assert_eq!(seen[0].header("x-forwarded-for"), Some("127.0.0.1"));

    let trusted = edge(
        &upstream,
        "trusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]",
        "",
    )
    .await;
    get_with(trusted.addr(), "/b", &xff).await;
    let seen = upstream.wait_for_requests(2, Duration::from_secs(5)).await;
    assert_eq!(
        seen[1].header("x-forwarded-for"),
        Some("203.0.113.9, 10.1.1.1, 127.0.0.1")
    );
    let line = trusted
        .wait_for_log("path=\"/b\"", Duration::from_secs(5))
        .await;
    assert!(line.contains("client=203.0.113.9"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_can_be_json_lines() {
    let upstream = RecordingUpstream::start().await;
    let edge = edge(&upstream, "access_log = \"json\"", "").await;
    let response = get(edge.addr(), "/json-logged?x=1").await;
    let id = response.header("x-request-id").unwrap().to_owned();

    let logs = edge.wait_for_log(&id, Duration::from_secs(5)).await;
    let line = logs
        .lines()
        .find(|l| l.contains(&id) && l.starts_with('{'))
        .expect("a JSON access line");
    let entry: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(entry["path"], "/json-logged?x=1");
    assert_eq!(entry["status"], 200);
    assert_eq!(entry["served_by"], "upstream");
    assert!(entry["time"].is_string() && entry["duration_ms"].is_number());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_can_wait_less_than_its_upstream() {
    use switchyard_tests::Reply;

    let upstream = RecordingUpstream::start().await;
    upstream.respond(
        "/",
        Reply::text(200, "late").with_delay(Duration::from_millis(700)),
    );
    let routes =
        "[[routes]]\npath = \"/impatient/*\"\nupstream = \"legacy\"\nread_timeout = \"200ms\"\n";
    let edge = edge(&upstream, "", routes).await;

    let impatient = get(edge.addr(), "/impatient/x").await;
    assert_eq!(impatient.status, 504, "{}", impatient.text());
    assert_eq!(impatient.json()["error"], "upstream_timeout");
    assert_eq!(get(edge.addr(), "/patient").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_s_total_timeout_bounds_the_whole_exchange() {
    use switchyard_tests::Reply;

    let upstream = RecordingUpstream::start().await;
    upstream.respond(
        "/",
        Reply::text(200, "late").with_delay(Duration::from_millis(700)),
    );
    let routes =
        "[[routes]]\npath = \"/bounded/*\"\nupstream = \"legacy\"\ntotal_timeout = \"300ms\"\n";
    let edge = edge(&upstream, "", routes).await;

    let bounded = get(edge.addr(), "/bounded/x").await;
    assert_eq!(bounded.status, 504, "{}", bounded.text());
    assert_eq!(bounded.json()["error"], "upstream_timeout");
}
