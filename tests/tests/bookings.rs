//! Native bookings against a real Redis: `POST /api/bookings` enqueues a job exactly
//! as the legacy Sidekiq worker expects it, together with its `pending` record; the
//! status route reads that record; every bad request is refused and enqueues nothing.

use std::time::{SystemTime, UNIX_EPOCH};

use redis::AsyncCommands;
use serde_json::Value;
use switchyard_tests::{get, post_json, request, Connection, Edge, EdgeConfig, Stack, TestRedis};

const VALID: &str = r#"{"event_id": 3, "quantity": 2, "user_ref": "fan-42"}"#;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn queue_length(redis: &TestRedis, queue: &str) -> usize {
    redis.lrange(&format!("queue:{queue}")).await.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_is_accepted_with_an_id_to_poll() {
    let stack = Stack::start().await;
    let response = post_json(stack.edge.addr(), "/api/bookings", VALID).await;

    assert_eq!(response.status, 202, "{}", response.text());
    assert_eq!(response.header("x-served-by"), Some("native"));
    let body = response.json();
    let id = body["booking_id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    assert_eq!(body["status"], "pending");
    let status_url = format!("/api/bookings/{id}");
    assert_eq!(body["status_url"], status_url.as_str());
    assert_eq!(response.header("location"), Some(status_url.as_str()));
    assert!(stack.upstream.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_matches_the_contract_field_by_field() {
    let stack = Stack::start().await;
    let before = now_ms();
    let accepted = post_json(stack.edge.addr(), "/api/bookings", VALID)
        .await
        .json();
    let after = now_ms();
    let id = accepted["booking_id"].as_str().unwrap();

    let raw = stack.redis.lrange(&format!("queue:{}", stack.queue)).await;
    assert_eq!(raw.len(), 1);
    let job: Value = serde_json::from_str(&raw[0]).unwrap();
    assert_eq!(job["class"], "BookingJob");
    assert_eq!(job["queue"], stack.queue.as_str());
    assert_eq!(job["retry"], 3);

    let jid = job["jid"].as_str().unwrap();
    assert_eq!(jid.len(), 24);
    assert!(
        jid.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "{jid}"
    );

    let args = job["args"].as_array().unwrap();
    assert_eq!(args.len(), 5);
    assert_eq!(args[0], id);
    assert!(args[1].is_i64() && args[1] == 3);
    assert_eq!(args[2], "fan-42");
    assert!(args[3].is_i64() && args[3] == 2);
    let enqueued_ms = args[4].as_i64().expect("enqueued_at_ms is an integer");
    assert!((before..=after).contains(&enqueued_ms));

    // Float seconds with a fraction, never integer seconds (the Sidekiq 6/7 format).
    for field in ["created_at", "enqueued_at"] {
        assert!(job[field].is_f64(), "{field} must be a float: {}", raw[0]);
        let seconds = job[field].as_f64().unwrap();
        assert!(
            (seconds * 1000.0 - enqueued_ms as f64).abs() < 1.0,
            "{field}"
        );
    }
    assert_eq!(job["lifespan_ms"], 120_000);

    let mut conn = stack.redis.conn();
    let queues: Vec<String> = conn.smembers("queues").await.unwrap();
    assert!(queues.contains(&stack.queue));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pending_record_is_written_with_the_job() {
    let stack = Stack::start().await;
    let accepted = post_json(stack.edge.addr(), "/api/bookings", VALID)
        .await
        .json();
    let id = accepted["booking_id"].as_str().unwrap();
    let key = format!("booking:{id}");

    let record = stack.redis.hgetall(&key).await;
    assert_eq!(record["status"], "pending");
    assert_eq!(record["reason"], "");
    assert_eq!(record["event_id"], "3");
    assert_eq!(record["quantity"], "2");
    assert_eq!(record["user_ref"], "fan-42");
    let job: Value =
        serde_json::from_str(&stack.redis.lrange(&format!("queue:{}", stack.queue)).await[0])
            .unwrap();
    assert_eq!(record["jid"], job["jid"].as_str().unwrap());

    let mut conn = stack.redis.conn();
    let ttl: i64 = conn.ttl(&key).await.unwrap();
    assert!((86_000..=86_400).contains(&ttl), "ttl {ttl}");
    stack.redis.del(&key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_follows_the_worker_s_updates() {
    let stack = Stack::start().await;
    let accepted = post_json(stack.edge.addr(), "/api/bookings", VALID)
        .await
        .json();
    let url = accepted["status_url"].as_str().unwrap();
    let key = format!("booking:{}", accepted["booking_id"].as_str().unwrap());

    let pending = get(stack.edge.addr(), url).await;
    assert_eq!(pending.status, 200);
    assert_eq!(pending.header("x-served-by"), Some("native"));
    let body = pending.json();
    assert_eq!(
        (body["status"].as_str(), body["reason"].clone()),
        (Some("pending"), Value::Null)
    );
    assert_eq!(body["booking_id"], accepted["booking_id"]);

    // What the worker writes when it is done.
    let mut conn = stack.redis.conn();
    let _: () = conn
        .hset_multiple(
            &key,
            &[
                ("status", "rejected"),
                ("reason", "sold_out"),
                ("processed_at_ms", "1764864000123"),
            ],
        )
        .await
        .unwrap();
    let done = get(stack.edge.addr(), url).await.json();
    assert_eq!(done["status"], "rejected");
    assert_eq!(done["reason"], "sold_out");
    assert_eq!(done["processed_at_ms"], 1_764_864_000_123_i64);
    assert_eq!(done["event_id"], 3);
    stack.redis.del(&key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_malformed_booking_ids() {
    let stack = Stack::start().await;
    let unknown = get(
        stack.edge.addr(),
        "/api/bookings/6f1c2a9e-3b7d-4c1e-9a55-0d2f8e7b6a41",
    )
    .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"], "not_found");

    for bad in ["42", "not-a-uuid", "6f1c2a9e3b7d4c1e9a550d2f8e7b6a41"] {
        let response = get(stack.edge.addr(), &format!("/api/bookings/{bad}")).await;
        assert_eq!(response.status, 400, "{bad}");
        assert_eq!(response.json()["error"], "invalid_parameter");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_their_status_and_enqueue_nothing() {
    let stack = Stack::start().await;
    let json = [("Content-Type", "application/json")];
    // (headers, body, status, error code, field the message starts with)
    type Case<'a> = (&'a [(&'a str, &'a str)], String, u16, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (&[], VALID.into(), 415, "unsupported_media_type", ""),
        (
            &[("Content-Type", "text/plain")],
            VALID.into(),
            415,
            "unsupported_media_type",
            "",
        ),
        (&json, "{\"event_id\": 3,".into(), 400, "malformed_json", ""),
        (&json, "not json".into(), 400, "malformed_json", ""),
        (&json, "[]".into(), 422, "invalid_field", "body"),
        (
            &json,
            r#"{"quantity": 1, "user_ref": "u"}"#.into(),
            422,
            "invalid_field",
            "event_id",
        ),
        (
            &json,
            r#"{"event_id": -3, "quantity": 1, "user_ref": "u"}"#.into(),
            422,
            "invalid_field",
            "event_id",
        ),
        (
            &json,
            r#"{"event_id": 3, "quantity": 11, "user_ref": "u"}"#.into(),
            422,
            "invalid_field",
            "quantity",
        ),
        (
            &json,
            r#"{"event_id": 3, "quantity": "2", "user_ref": "u"}"#.into(),
            422,
            "invalid_field",
            "quantity",
        ),
        (
            &json,
            r#"{"event_id": 3, "quantity": 1, "user_ref": ""}"#.into(),
            422,
            "invalid_field",
            "user_ref",
        ),
        (
            &json,
            format!(
                r#"{{"event_id": 3, "quantity": 1, "user_ref": "{}"}}"#,
                "x".repeat(256)
            ),
            422,
            "invalid_field",
            "user_ref",
        ),
        (
            &json,
            r#"{"event_id": 3, "quantity": 1, "user_ref": "u", "vip": true}"#.into(),
            422,
            "invalid_field",
            "vip",
        ),
        (
            &json,
            format!(
                r#"{{"event_id": 3, "quantity": 1, "user_ref": "{}"}}"#,
                "x".repeat(20_000)
            ),
            413,
            "body_too_large",
            "",
        ),
    ];
    for (headers, body, status, code, field) in cases {
        let response = request(
            stack.edge.addr(),
            "POST",
            "/api/bookings",
            headers,
            body.as_bytes(),
        )
        .await;
        let shown = &body[..body.len().min(60)];
        assert_eq!(response.status, status, "{shown}: {}", response.text());
        assert_eq!(response.header("content-type"), Some("application/json"));
        let answer = response.json();
        assert_eq!(answer["error"], code, "{shown}");
        assert!(
            answer["message"].as_str().unwrap().starts_with(field),
            "{shown}: {answer}"
        );
    }
    assert_eq!(queue_length(&stack.redis, &stack.queue).await, 0);
    assert!(stack.upstream.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_over_the_limit_is_413_and_enqueues_nothing() {
    let stack = Stack::start().await;
    let mut connection = Connection::open(stack.edge.addr()).await;
    let head = "POST /api/bookings HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    connection.write_raw(head.as_bytes()).await.unwrap();
    let chunk = format!("2000\r\n{}\r\n", "x".repeat(0x2000));
    for _ in 0..3 {
        if connection.write_raw(chunk.as_bytes()).await.is_err() {
            break; // The edge may answer and close before the last chunk.
        }
    }
    let _ = connection.write_raw(b"0\r\n\r\n").await;
    let response = connection.read_response(false).await.unwrap();
    assert_eq!(response.status, 413);
    assert_eq!(response.json()["error"], "body_too_large");
    assert_eq!(queue_length(&stack.redis, &stack.queue).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_booking_within_the_limit_is_accepted() {
    let stack = Stack::start().await;
    let mut connection = Connection::open(stack.edge.addr()).await;
    let (first, second) = VALID.split_at(10);
    let raw = format!(
        "POST /api/bookings HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
        first.len(),
        second.len()
    );
    let response = connection.send_raw(raw.as_bytes()).await;
    assert_eq!(response.status, 202, "{}", response.text());
    assert_eq!(queue_length(&stack.redis, &stack.queue).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_bookings_is_still_the_legacy_app_s() {
    let stack = Stack::start().await;
    let response = get(stack.edge.addr(), "/api/bookings?page=2").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("x-served-by"), Some("upstream"));
    let seen = stack.upstream.requests();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("GET", "/api/bookings?page=2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_is_503_and_never_202() {
    // Nothing listens there: a store that refuses connections.
    let port = switchyard_tests::free_port();
    let stack =
        Stack::start_with(|config| config.env("REDIS_URL", format!("redis://127.0.0.1:{port}/0")))
            .await;

    for _ in 0..3 {
        let response = post_json(stack.edge.addr(), "/api/bookings", VALID).await;
        assert_eq!(response.status, 503, "{}", response.text());
        assert_eq!(response.json()["error"], "unavailable");
        assert!(response.header("retry-after").is_some());
    }
    let status = get(
        stack.edge.addr(),
        "/api/bookings/6f1c2a9e-3b7d-4c1e-9a55-0d2f8e7b6a41",
    )
    .await;
    assert_eq!(status.status, 503);
    assert_eq!(queue_length(&stack.redis, &stack.queue).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sidekiq_8_fleet_gets_integer_milliseconds() {
    let redis = TestRedis::connect().await;
    let queue = redis.unique_queue();
    let routes = format!(
        r#"
[server]
default_upstream = "legacy"
[stores]
redis_url = "{}"
[upstreams.legacy]
addresses = ["127.0.0.1:9"]
[[routes]]
path = "/book"
handler = "bookings.create"
[routes.options]
queue = "{queue}"
job_class = "Tickets::BookingJob"
sidekiq_version = 8
retry = false
lifespan = "45s"
status_path = "/status/{{id}}"
"#,
        redis.url()
    );
    let edge = Edge::start(EdgeConfig::new(routes)).await;
    let response = post_json(edge.addr(), "/book", VALID).await;
    assert_eq!(response.status, 202, "{}", response.text());
    let id = response.json()["booking_id"].as_str().unwrap().to_owned();
    assert_eq!(
        response.header("location"),
        Some(format!("/status/{id}").as_str())
    );

    let job = &redis.sidekiq_jobs(&queue).await[0];
    assert_eq!(job["class"], "Tickets::BookingJob");
    assert_eq!(job["retry"], false);
    assert_eq!(job["lifespan_ms"], 45_000);
    assert!(job["enqueued_at"].is_i64(), "{job}");
    assert_eq!(job["enqueued_at"], job["args"][4]);
    redis.del(&format!("booking:{id}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_chunked_framing_is_400_not_500() {
    let stack = Stack::start().await;
    let mut connection = Connection::open(stack.edge.addr()).await;
    let raw = "POST /api/bookings HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n";
    let response = connection.send_raw(raw.as_bytes()).await;
    assert_eq!(response.status, 400, "{}", response.text());
    assert_eq!(response.json()["error"], "malformed_body");
    assert_eq!(queue_length(&stack.redis, &stack.queue).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_100_continue_is_answered_before_the_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let stack = Stack::start().await;
    let mut socket = tokio::net::TcpStream::connect(stack.edge.addr())
        .await
        .unwrap();
    let head = format!(
        "POST /api/bookings HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        VALID.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();

    let mut interim = [0u8; 64];
    let read =
        tokio::time::timeout(std::time::Duration::from_secs(5), socket.read(&mut interim)).await;
    let n = read
        .expect("no 100 Continue before the body was sent")
        .unwrap();
    assert!(
        String::from_utf8_lossy(&interim[..n]).starts_with("HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&interim[..n])
    );

    socket.write_all(VALID.as_bytes()).await.unwrap();
    let mut rest = String::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        socket.read_to_string(&mut rest),
    )
    .await;
    assert!(rest.contains(" 202 "), "{rest}");
}
