//! Booking status without polling: `?wait=` holds the request until the status
//! leaves `pending`, and `Accept: text/event-stream` streams every change.

use std::time::Duration;

use redis::AsyncCommands;
use switchyard_tests::{get, get_with, post_json, Stack};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const VALID: &str = r#"{"event_id": 1, "quantity": 1, "user_ref": "fan-9"}"#;

/// Books and returns (booking id, status url).
async fn book(stack: &Stack) -> (String, String) {
    let accepted = post_json(stack.edge.addr(), "/api/bookings", VALID)
        .await
        .json();
    let id = accepted["booking_id"].as_str().unwrap().to_owned();
    (id, accepted["status_url"].as_str().unwrap().to_owned())
}

/// Does what the worker does when it finishes a booking.
async fn finish(stack: &Stack, id: &str, status: &str, reason: &str) {
    let mut conn = stack.redis.conn();
    let _: () = conn
        .hset_multiple(
            format!("booking:{id}"),
            &[("status", status), ("reason", reason)],
        )
        .await
        .unwrap();
    let message = serde_json::json!({ "id": id, "status": status, "reason": reason }).to_string();
    let _: () = conn.publish("bookings:updates", message).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_request_answers_when_the_booking_is_done() {
    let stack = Stack::start().await;
    let (id, url) = book(&stack).await;

    let addr = stack.edge.addr();
    let waiting = tokio::spawn(async move { get(addr, &format!("{url}?wait=20")).await });
    finish(&stack, &id, "confirmed", "").await;

    let response = tokio::time::timeout(Duration::from_secs(25), waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["status"], "confirmed");
    stack.redis.del(&format!("booking:{id}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_that_sees_no_change_answers_pending() {
    let stack = Stack::start().await;
    let (id, url) = book(&stack).await;
    let response = get(stack.edge.addr(), &format!("{url}?wait=0.5")).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["status"], "pending");

    for bad in ["soon", "-2"] {
        let response = get(stack.edge.addr(), &format!("{url}?wait={bad}")).await;
        assert_eq!(response.status, 400, "{bad}");
        assert_eq!(response.json()["error"], "invalid_parameter");
    }
    stack.redis.del(&format!("booking:{id}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stream_sends_each_change_and_ends_when_final() {
    let stack = Stack::start().await;
    let (id, url) = book(&stack).await;

    let mut socket = TcpStream::connect(stack.edge.addr()).await.unwrap();
    let head = format!("GET {url} HTTP/1.1\r\nHost: edge\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n");
    socket.write_all(head.as_bytes()).await.unwrap();

    let mut seen = read_until(&mut socket, String::new(), "\"status\":\"pending\"").await;
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(
        seen.to_ascii_lowercase()
            .contains("content-type: text/event-stream"),
        "{seen}"
    );
    assert!(
        seen.contains("event: status\r\n") || seen.contains("event: status\n"),
        "{seen}"
    );

    finish(&stack, &id, "rejected", "sold_out").await;
    seen = read_until(&mut socket, seen, "0\r\n\r\n").await;
    assert!(seen.contains("\"status\":\"rejected\""), "{seen}");
    assert!(seen.contains("\"reason\":\"sold_out\""), "{seen}");
    stack.redis.del(&format!("booking:{id}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stream_of_an_unknown_booking_is_404() {
    let stack = Stack::start().await;
    let response = get_with(
        stack.edge.addr(),
        "/api/bookings/6f1c2a9e-3b7d-4c1e-9a55-0d2f8e7b6a41",
        &[("Accept", "text/event-stream")],
    )
    .await;
    assert_eq!(response.status, 404);
}

/// Reads from `socket` until `needle` shows up in what was read, within a deadline.
async fn read_until(socket: &mut TcpStream, mut seen: String, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut buffer = [0u8; 4096];
    while !seen.contains(needle) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let read = tokio::time::timeout(left, socket.read(&mut buffer)).await;
        let n = read
            .unwrap_or_else(|_| panic!("no {needle:?} within the deadline; got:\n{seen}"))
            .unwrap();
        assert!(n > 0, "connection closed before {needle:?}; got:\n{seen}");
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
    seen
}
