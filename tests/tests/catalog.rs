//! Native catalog reads against a real PostgreSQL: `GET /api/events` and
//! `GET /api/events/{id}` return exactly the rows, page correctly, and refuse bad
//! parameters with JSON errors.

use serde_json::{json, Value};
use sqlx::Row;
use switchyard_tests::{get, request, Stack};

/// The events table as the API should render it, in API order.
async fn rows_as_json(stack: &Stack) -> Vec<Value> {
    let rows = sqlx::query(
        "SELECT id, name, to_char(starts_at, 'YYYY-MM-DD\"T\"HH24:MI:SS') AS starts_at, \
         seats_total, seats_available FROM events \
         ORDER BY starts_at ASC NULLS LAST, id",
    )
    .fetch_all(stack.database.pool())
    .await
    .unwrap();
    rows.iter()
        .map(|row| {
            json!({
                "id": row.get::<i64, _>("id"),
                "name": row.get::<String, _>("name"),
                "starts_at": row.get::<Option<String>, _>("starts_at"),
                "seats_total": row.get::<i32, _>("seats_total"),
                "seats_available": row.get::<i32, _>("seats_available"),
            })
        })
        .collect()
}

fn assert_native_json(response: &switchyard_tests::Response) {
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.header("x-served-by"), Some("native"));
    assert!(response
        .header("x-request-id")
        .is_some_and(|id| !id.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_list_equals_the_rows() {
    let stack = Stack::start().await;
    let response = get(stack.edge.addr(), "/api/events").await;

    assert_eq!(response.status, 200, "{}", response.text());
    assert_native_json(&response);
    assert_eq!(response.json(), Value::Array(rows_as_json(&stack).await));
    assert!(
        stack.upstream.requests().is_empty(),
        "a native read reached the upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_shows_changes_and_sorts_undated_events_last() {
    let stack = Stack::start().await;
    let pool = stack.database.pool();
    sqlx::query("INSERT INTO events (id, name, starts_at, seats_total, seats_available) VALUES (100, 'Date to be announced', NULL, 10, 10)")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE events SET seats_available = 7 WHERE id = 1")
        .execute(pool)
        .await
        .unwrap();

    let events = get(stack.edge.addr(), "/api/events").await.json();
    let list = events.as_array().unwrap();
    assert_eq!(list.last().unwrap()["id"], 100);
    assert_eq!(list.last().unwrap()["starts_at"], Value::Null);
    let first = list.iter().find(|e| e["id"] == 1).unwrap();
    assert_eq!(first["seats_available"], 7);
    assert_eq!(events, Value::Array(rows_as_json(&stack).await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyset_paging_walks_every_event_once() {
    let stack = Stack::start().await;
    let expected = rows_as_json(&stack).await;

    let mut seen = Vec::new();
    let mut next = Some("/api/events?limit=2".to_owned());
    for _ in 0..10 {
        let Some(path) = next.take() else { break };
        let response = get(stack.edge.addr(), &path).await;
        assert_eq!(response.status, 200, "{path}: {}", response.text());
        let page = response.json().as_array().unwrap().clone();
        assert!(page.len() <= 2);
        next = response.header("link").map(|link| {
            let start = link.find('<').unwrap() + 1;
            let end = link.find('>').unwrap();
            link[start..end].to_owned()
        });
        seen.extend(page);
    }
    assert!(next.is_none(), "paging did not end");
    assert_eq!(seen, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_after_the_last_event_is_empty() {
    let stack = Stack::start().await;
    let rows = rows_as_json(&stack).await;
    let last = rows.last().unwrap()["id"].as_i64().unwrap();

    let response = get(stack.edge.addr(), &format!("/api/events?after={last}")).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), json!([]));
    assert!(response.header("link").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_list_parameters_are_400_with_a_reason() {
    let stack = Stack::start().await;
    for query in [
        "limit=0",
        "limit=201",
        "limit=ten",
        "limit=-1",
        "after=abc",
        "after=0",
        "after=999999",
    ] {
        let response = get(stack.edge.addr(), &format!("/api/events?{query}")).await;
        assert_eq!(response.status, 400, "{query}: {}", response.text());
        assert_native_json(&response);
        let body = response.json();
        assert_eq!(body["error"], "invalid_parameter", "{query}");
        let field = query.split('=').next().unwrap();
        assert!(
            body["message"].as_str().unwrap().starts_with(field),
            "{query}: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_event_equals_its_row() {
    let stack = Stack::start().await;
    let rows = rows_as_json(&stack).await;
    for row in &rows {
        let response = get(stack.edge.addr(), &format!("/api/events/{}", row["id"])).await;
        assert_eq!(response.status, 200);
        assert_native_json(&response);
        assert_eq!(&response.json(), row);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_event_is_404_and_a_bad_id_is_400() {
    let stack = Stack::start().await;
    let cases = [
        ("999999", 404, "not_found"),
        ("abc", 400, "invalid_parameter"),
        ("0", 400, "invalid_parameter"),
        ("-4", 400, "invalid_parameter"),
        ("1.5", 400, "invalid_parameter"),
    ];
    for (id, status, code) in cases {
        let response = get(stack.edge.addr(), &format!("/api/events/{id}")).await;
        assert_eq!(response.status, status, "{id}: {}", response.text());
        assert_native_json(&response);
        assert_eq!(response.json()["error"], code, "{id}");
        assert!(response.json()["message"].is_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_gets_the_headers_without_a_body() {
    let stack = Stack::start().await;
    let full = get(stack.edge.addr(), "/api/events/1").await;
    let head = request(stack.edge.addr(), "HEAD", "/api/events/1", &[], b"").await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(full.body.len().to_string().as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_the_catalog_does_not_answer_reach_the_legacy_app() {
    let stack = Stack::start().await;
    let response = request(stack.edge.addr(), "DELETE", "/api/events/1", &[], b"").await;
    assert_eq!(response.header("x-served-by"), Some("upstream"));
    let seen = stack.upstream.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("DELETE", "/api/events/1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_503_and_pass_through_still_works() {
    // Nothing listens there: a store that refuses connections.
    let port = switchyard_tests::free_port();
    let stack = Stack::start_with(|config| {
        config.env(
            "DATABASE_URL",
            format!("postgres://switchyard_edge@127.0.0.1:{port}/nothing"),
        )
    })
    .await;

    for path in ["/api/events", "/api/events/1"] {
        let response = get(stack.edge.addr(), path).await;
        assert_eq!(response.status, 503, "{path}: {}", response.text());
        assert_native_json(&response);
        assert_eq!(response.json()["error"], "unavailable");
        assert!(response
            .header("retry-after")
            .is_some_and(|s| s.parse::<u64>().is_ok()));
    }
    let passed = get(stack.edge.addr(), "/somewhere/else").await;
    assert_eq!(passed.status, 200);
    assert_eq!(passed.header("x-served-by"), Some("upstream"));
}
