//! Redis going away and coming back: bookings are refused with `503` (never `202`)
//! while it is gone, and accepted again once it is back, without restarting the edge.

use std::time::{Duration, Instant};

use redis::AsyncCommands;
use switchyard_tests::{post_json, Edge, EdgeConfig, PrivateRedis};

const VALID: &str = r#"{"event_id": 3, "quantity": 1, "user_ref": "fan-3"}"#;

fn routes(redis_url: &str) -> String {
    format!(
        r#"
[server]
default_upstream = "legacy"
[stores]
redis_url = "{redis_url}"
connect_timeout = "300ms"
command_timeout = "500ms"
[upstreams.legacy]
addresses = ["127.0.0.1:9"]
[[routes]]
path = "/api/bookings"
handler = "bookings.create"
[routes.options]
queue = "outage"
"#
    )
}

async fn queued(url: &str) -> usize {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    conn.llen("queue:outage").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookings_fail_cleanly_while_redis_is_down_and_recover_after() {
    let mut redis = PrivateRedis::start();
    let edge = Edge::start(EdgeConfig::new(routes(&redis.url()))).await;
    assert_eq!(
        post_json(edge.addr(), "/api/bookings", VALID).await.status,
        202
    );

    redis.stop();
    for _ in 0..5 {
        let response = post_json(edge.addr(), "/api/bookings", VALID).await;
        assert_eq!(response.status, 503, "{}", response.text());
        assert_eq!(response.json()["error"], "unavailable");
        assert!(response.header("retry-after").is_some());
    }

    // A fresh server: everything before the outage is gone, so the queue counts only
    // what was accepted after it.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut accepted = 0;
    while accepted < 3 {
        assert!(
            Instant::now() < deadline,
            "bookings never recovered:\n{}",
            edge.logs()
        );
        let response = post_json(edge.addr(), "/api/bookings", VALID).await;
        match response.status {
            202 => accepted += 1,
            503 => tokio::time::sleep(Duration::from_millis(100)).await,
            other => panic!("unexpected {other}: {}", response.text()),
        }
    }
    assert_eq!(queued(&redis.url()).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_redis_is_503_within_the_command_timeout() {
    let redis = PrivateRedis::start();
    let edge = Edge::start(EdgeConfig::new(routes(&redis.url()))).await;
    assert_eq!(
        post_json(edge.addr(), "/api/bookings", VALID).await.status,
        202
    );

    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(3000)
        .arg("ALL")
        .query_async(&mut conn)
        .await
        .unwrap();

    let response = post_json(edge.addr(), "/api/bookings", VALID).await;
    assert_eq!(response.status, 503, "{}", response.text());
    assert_eq!(response.json()["error"], "unavailable");
}
