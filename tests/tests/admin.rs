//! The admin listener: Prometheus metrics that count what was sent, health and
//! readiness for load balancers, and the reload status.

use std::collections::HashMap;
use std::time::Duration;

use switchyard_tests::{get, post_json, Signal, Stack};

/// Parses Prometheus' text format into `series -> value`, failing on any line that is
/// not a comment or a sample.
fn parse_metrics(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number in: {line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in: {line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "unclosed labels in: {line}");
        }
        samples.insert(series.to_owned(), value);
    }
    samples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_was_sent() {
    let stack = Stack::start().await;
    for _ in 0..3 {
        assert_eq!(get(stack.edge.addr(), "/api/events/1").await.status, 200);
    }
    assert_eq!(get(stack.edge.addr(), "/api/events/abc").await.status, 400);
    assert_eq!(get(stack.edge.addr(), "/legacy/page").await.status, 200);
    let booking = r#"{"event_id": 3, "quantity": 1, "user_ref": "m"}"#;
    assert_eq!(
        post_json(stack.edge.addr(), "/api/bookings", booking)
            .await
            .status,
        202
    );

    // A client holding a keep-alive connection open while metrics are read.
    let mut held = switchyard_tests::Connection::open(stack.edge.addr()).await;
    assert_eq!(held.get("/held").await.status, 200);

    let response = get(stack.edge.admin_addr(), "/metrics").await;
    assert_eq!(response.status, 200);
    assert!(response
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    let samples = parse_metrics(&response.text());
    let value = |series: &str| {
        *samples
            .get(series)
            .unwrap_or_else(|| panic!("no {series} in\n{}", response.text()))
    };

    let requests = "switchyard_requests_total";
    assert_eq!(
        value(&format!(
            r#"{requests}{{method="GET",route="events.show",served_by="native",status_class="2xx"}}"#
        )),
        3.0
    );
    assert_eq!(
        value(&format!(
            r#"{requests}{{method="GET",route="events.show",served_by="native",status_class="4xx"}}"#
        )),
        1.0
    );
    assert_eq!(
        value(&format!(
            r#"{requests}{{method="GET",route="-",served_by="upstream",status_class="2xx"}}"#
        )),
        2.0
    );
    assert_eq!(
        value(r#"switchyard_request_duration_seconds_count{route="events.show"}"#),
        4.0
    );
    let depth = format!(
        r#"switchyard_handler_gauge{{name="booking_queue_depth",route="bookings.create",subject="{}"}}"#,
        stack.queue
    );
    assert_eq!(value(&depth), 1.0);
    assert_eq!(value("switchyard_last_reload_success"), 1.0);
    assert!(value("switchyard_open_connections") >= 1.0);
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness() {
    let stack = Stack::start().await;
    let health = get(stack.edge.admin_addr(), "/healthz").await;
    assert_eq!(health.status, 200);

    let ready = get(stack.edge.admin_addr(), "/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    let body = ready.json();
    assert_eq!(body["ready"], true);
    assert_eq!(body["checks"].as_array().unwrap().len(), 3);

    // The admin listener is not on the public port.
    let public = get(stack.edge.addr(), "/metrics").await;
    assert_eq!(public.header("x-served-by"), Some("upstream"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_makes_the_edge_unready() {
    // Nothing listens there: a store that refuses connections.
    let port = switchyard_tests::free_port();
    let stack = Stack::start_with(|config| {
        config.env(
            "DATABASE_URL",
            format!("postgres://switchyard_edge@127.0.0.1:{port}/none"),
        )
    })
    .await;

    let ready = get(stack.edge.admin_addr(), "/readyz").await;
    assert_eq!(ready.status, 503, "{}", ready.text());
    let body = ready.json();
    let checks = body["checks"].as_array().unwrap();
    let database = checks.iter().find(|c| c["name"] == "postgresql").unwrap();
    assert_eq!(database["ok"], false);
    assert!(database["error"].is_string());
    let redis = checks.iter().find(|c| c["name"] == "redis").unwrap();
    assert_eq!(redis["ok"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_reload_shows_in_status_and_metrics() {
    let stack = Stack::start().await;
    std::fs::write(
        stack.edge.routes_path(),
        "[server]\ndefault_upstream = \"nowhere\"\n",
    )
    .unwrap();
    stack.edge.signal(Signal::SIGHUP);
    stack
        .edge
        .wait_for_log("routes not reloaded", Duration::from_secs(5))
        .await;

    let status = get(stack.edge.admin_addr(), "/status").await.json();
    assert_eq!(status["last_reload"]["ok"], false);
    assert!(status["last_reload"]["error"]
        .as_str()
        .unwrap()
        .contains("unknown upstream `nowhere`"));
    assert_eq!(status["routes"], 5);

    let samples = parse_metrics(&get(stack.edge.admin_addr(), "/metrics").await.text());
    assert_eq!(samples[r#"switchyard_reloads_total{result="error"}"#], 1.0);
    assert_eq!(samples["switchyard_last_reload_success"], 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_needs_a_restart_says_so() {
    let stack = Stack::start().await;
    let moved = switchyard_tests::shipped_routes().replace(
        "listen = \"${SWITCHYARD_ADMIN_LISTEN:-127.0.0.1:9180}\"",
        &format!("listen = \"127.0.0.1:{}\"", switchyard_tests::free_port()),
    );
    std::fs::write(stack.edge.routes_path(), moved).unwrap();
    stack.edge.signal(Signal::SIGHUP);
    stack
        .edge
        .wait_for_log("routes reloaded", Duration::from_secs(5))
        .await;

    let status = get(stack.edge.admin_addr(), "/status").await.json();
    assert_eq!(status["last_reload"]["ok"], true);
    assert_eq!(
        status["last_reload"]["restart_needed"],
        serde_json::json!(["admin.listen"])
    );
}
