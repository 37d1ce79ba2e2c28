//! Bookings under pressure: idempotent retries never book twice, and a queue that
//! cannot be drained in time refuses new bookings at once instead of letting them
//! expire.

use std::time::{SystemTime, UNIX_EPOCH};

use redis::AsyncCommands;
use switchyard_tests::{post_json, request, Edge, EdgeConfig, Response, Stack, TestRedis};

const VALID: &str = r#"{"event_id": 3, "quantity": 1, "user_ref": "fan-7"}"#;

async fn book_with_key(stack: &Stack, key: &str, body: &str) -> Response {
    let headers = [
        ("Content-Type", "application/json"),
        ("Idempotency-Key", key),
    ];
    request(
        stack.edge.addr(),
        "POST",
        "/api/bookings",
        &headers,
        body.as_bytes(),
    )
    .await
}

async fn queue_length(redis: &TestRedis, queue: &str) -> usize {
    redis.lrange(&format!("queue:{queue}")).await.len()
}

/// An edge whose booking route has `options` (TOML lines) on `queue`.
async fn edge_with_options(redis: &TestRedis, queue: &str, options: &str) -> Edge {
    let routes = format!(
        "[server]\ndefault_upstream = \"legacy\"\n[stores]\nredis_url = \"{}\"\n\
         [upstreams.legacy]\naddresses = [\"127.0.0.1:9\"]\n\
         [[routes]]\npath = \"/api/bookings\"\nhandler = \"bookings.create\"\n\
         [routes.options]\nqueue = \"{queue}\"\n{options}\n",
        redis.url()
    );
    Edge::start(EdgeConfig::new(routes)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_with_the_same_key_returns_the_same_booking() {
    let stack = Stack::start().await;
    let first = book_with_key(&stack, "order-1", VALID).await;
    assert_eq!(first.status, 202, "{}", first.text());
    assert!(first.header("idempotent-replayed").is_none());

    // Same request, other JSON layout: still the same request.
    let relaid = r#"{"user_ref":"fan-7","quantity":1,"event_id":3}"#;
    let again = book_with_key(&stack, "order-1", relaid).await;
    assert_eq!(again.status, 202, "{}", again.text());
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json()["booking_id"], first.json()["booking_id"]);
    assert_eq!(again.json()["status"], "pending");
    assert_eq!(queue_length(&stack.redis, &stack.queue).await, 1);

    // The replay reports the booking's current status.
    let id = first.json()["booking_id"].as_str().unwrap().to_owned();
    let mut conn = stack.redis.conn();
    let _: () = conn
        .hset(format!("booking:{id}"), "status", "confirmed")
        .await
        .unwrap();
    let later = book_with_key(&stack, "order-1", VALID).await;
    assert_eq!(later.json()["status"], "confirmed");
    stack.redis.del(&format!("booking:{id}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_with_another_body_is_409() {
    let stack = Stack::start().await;
    assert_eq!(book_with_key(&stack, "order-2", VALID).await.status, 202);
    let other = r#"{"event_id": 3, "quantity": 2, "user_ref": "fan-7"}"#;
    let response = book_with_key(&stack, "order-2", other).await;
    assert_eq!(response.status, 409, "{}", response.text());
    assert_eq!(response.json()["error"], "conflict");
    assert_eq!(queue_length(&stack.redis, &stack.queue).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_requests_with_one_key_make_one_job() {
    let stack = Stack::start().await;
    let key = format!("burst-{}", switchyard_tests::random_hex(6));
    let requests = (0..50).map(|_| book_with_key(&stack, &key, VALID));
    let responses = futures::future::join_all(requests).await;

    let ids: std::collections::BTreeSet<String> = responses
        .iter()
        .map(|r| {
            assert_eq!(r.status, 202, "{}", r.text());
            r.json()["booking_id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(queue_length(&stack.redis, &stack.queue).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_keys_are_400() {
    let stack = Stack::start().await;
    for key in ["has space", &"k".repeat(256)] {
        let response = book_with_key(&stack, key, VALID).await;
        assert_eq!(response.status, 400, "{key}");
        assert_eq!(response.json()["error"], "invalid_header");
    }
    assert_eq!(queue_length(&stack.redis, &stack.queue).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_the_next_booking() {
    let redis = TestRedis::connect().await;
    let queue = redis.unique_queue();
    let edge = edge_with_options(&redis, &queue, "max_queue_depth = 10").await;

    for n in 1..=10 {
        let response = post_json(edge.addr(), "/api/bookings", VALID).await;
        assert_eq!(response.status, 202, "booking {n}: {}", response.text());
    }
    let refused = post_json(edge.addr(), "/api/bookings", VALID).await;
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert_eq!(refused.json()["error"], "overloaded");
    assert_eq!(refused.header("retry-after"), Some("5"));
    assert_eq!(queue_length(&redis, &queue).await, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_too_old_to_drain_in_time_refuses_bookings() {
    let redis = TestRedis::connect().await;
    let now_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    // Both timestamp styles: float seconds (Sidekiq 6/7) and integer ms (Sidekiq 8).
    let stale = [
        format!("{:.3}", now_s - 90.0),
        format!("{}", ((now_s - 90.0) * 1000.0) as i64),
    ];
    for enqueued_at in stale {
        let queue = redis.unique_queue();
        let edge = edge_with_options(&redis, &queue, "max_queue_latency = \"1m\"").await;
        let old_job = format!(
            r#"{{"class":"BookingJob","args":[],"queue":"{queue}","jid":"x","enqueued_at":{enqueued_at}}}"#
        );
        let mut conn = redis.conn();
        let _: () = conn
            .lpush(format!("queue:{queue}"), &old_job)
            .await
            .unwrap();

        let refused = post_json(edge.addr(), "/api/bookings", VALID).await;
        assert_eq!(refused.status, 503, "{enqueued_at}: {}", refused.text());
        assert_eq!(refused.json()["error"], "overloaded");
        assert_eq!(queue_length(&redis, &queue).await, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_queue_within_the_latency_limit_accepts() {
    let redis = TestRedis::connect().await;
    let queue = redis.unique_queue();
    let edge = edge_with_options(&redis, &queue, "max_queue_latency = \"1m\"").await;
    for _ in 0..3 {
        assert_eq!(
            post_json(edge.addr(), "/api/bookings", VALID).await.status,
            202
        );
    }
    assert_eq!(queue_length(&redis, &queue).await, 3);
}
