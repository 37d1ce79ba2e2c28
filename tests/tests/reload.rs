//! `SIGHUP` reloads the route file: a valid file takes over, a broken one is reported
//! and ignored, and the edge never stops serving.

use std::time::{Duration, Instant};

use switchyard_tests::{get, Edge, EdgeConfig, RecordingUpstream, Signal};

fn routes(default_upstream: &str) -> String {
    format!(
        r#"
[server]
default_upstream = "{default_upstream}"

[upstreams.first]
addresses = ["${{FIRST}}"]

[upstreams.second]
addresses = ["${{SECOND}}"]
"#
    )
}

/// Sends requests until one reaches `upstream`, or fails after a deadline.
async fn wait_until_served_by(edge: &Edge, upstream: &RecordingUpstream) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while upstream.requests().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the reload never took effect:\n{}",
            edge.logs()
        );
        let response = get(edge.addr(), "/which").await;
        assert_eq!(response.status, 200);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_swaps_in_a_valid_file_and_keeps_the_table_on_a_broken_one() {
    let first = RecordingUpstream::start().await;
    let second = RecordingUpstream::start().await;
    let config = EdgeConfig::new(routes("first"))
        .env("FIRST", first.addr().to_string())
        .env("SECOND", second.addr().to_string());
    let mut edge = Edge::start(config).await;
    assert_eq!(get(edge.addr(), "/which").await.status, 200);
    assert_eq!(first.requests().len(), 1);

    std::fs::write(edge.routes_path(), routes("second")).unwrap();
    edge.signal(Signal::SIGHUP);
    wait_until_served_by(&edge, &second).await;
    edge.wait_for_log("routes reloaded", Duration::from_secs(5))
        .await;

    std::fs::write(edge.routes_path(), routes("third")).unwrap();
    edge.signal(Signal::SIGHUP);
    let logs = edge
        .wait_for_log("routes not reloaded", Duration::from_secs(5))
        .await;
    assert!(logs.contains("unknown upstream `third`"), "{logs}");

    let served_before = second.requests().len();
    assert_eq!(get(edge.addr(), "/which").await.status, 200);
    assert_eq!(second.requests().len(), served_before + 1);
    assert!(edge.is_running());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_file_reloads_without_a_signal() {
    let first = RecordingUpstream::start().await;
    let second = RecordingUpstream::start().await;
    let watched =
        |upstream: &str| routes(upstream).replacen("[server]\n", "[server]\nwatch = true\n", 1);
    let config = EdgeConfig::new(watched("first"))
        .env("FIRST", first.addr().to_string())
        .env("SECOND", second.addr().to_string());
    let edge = Edge::start(config).await;
    assert_eq!(get(edge.addr(), "/which").await.status, 200);

    std::fs::write(edge.routes_path(), watched("second")).unwrap();
    wait_until_served_by(&edge, &second).await;
    edge.wait_for_log("routes reloaded", Duration::from_secs(5))
        .await;
}
