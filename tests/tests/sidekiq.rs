//! The edge and a real Sidekiq together: bookings POSTed to the edge are consumed by
//! Sidekiq 6 running the reference `BookingJob` (`sidekiq/booking_job.rb`), and the
//! client sees the outcome on the edge's status URL. Each test checks the three places
//! the contract says an outcome lands: the status record, the `bookings` row and the
//! event's seats.
//!
//! Needs `sidekiq` and the `pg` gem: `apt-get install -y ruby-sidekiq ruby-pg`.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use serde_json::Value;
use switchyard_tests::{get, post_json, shipped_routes, EdgeConfig, SidekiqWorker, Stack};
use tokio::task::JoinSet;
use uuid::Uuid;

/// How long a booking may stay `pending` once a worker runs.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the status URL is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The channel the worker announces outcomes on.
const UPDATES_CHANNEL: &str = "bookings:updates";

/// A booking's row as the worker left it.
#[derive(Debug, sqlx::FromRow)]
struct BookingRow {
    status: String,
    reason: Option<String>,
    jid: Option<String>,
    event_id: Option<i64>,
    quantity: Option<i32>,
    user_ref: Option<String>,
    processed: bool,
}

/// POSTs a booking to the edge; returns its id and status URL.
async fn book(stack: &Stack, event_id: i64, quantity: i64, user_ref: &str) -> (String, String) {
    let body =
        format!(r#"{{"event_id": {event_id}, "quantity": {quantity}, "user_ref": "{user_ref}"}}"#);
    let response = post_json(stack.edge.addr(), "/api/bookings", &body).await;
    assert_eq!(response.status, 202, "{}", response.text());
    let accepted = response.json();
    let id = accepted["booking_id"].as_str().expect("a booking id");
    let url = accepted["status_url"].as_str().expect("a status URL");
    (id.to_owned(), url.to_owned())
}

/// Polls the edge's status URL until the booking leaves `pending`.
async fn settled(edge: SocketAddr, url: &str, worker: &SidekiqWorker) -> Value {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let response = get(edge, url).await;
        assert_eq!(response.status, 200, "{}", response.text());
        let record = response.json();
        if record["status"] != "pending" {
            return record;
        }
        if Instant::now() >= deadline {
            panic!(
                "{url} still pending after {SETTLE_TIMEOUT:?}; sidekiq's log:\n{}",
                worker.logs()
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

async fn booking_row(stack: &Stack, id: &str) -> BookingRow {
    let id = Uuid::parse_str(id).expect("a UUID booking id");
    sqlx::query_as(
        "SELECT status, reason, jid, event_id, quantity, user_ref, \
         processed_at IS NOT NULL AS processed FROM bookings WHERE id = $1",
    )
    .bind(id)
    .fetch_one(stack.database.pool())
    .await
    .unwrap_or_else(|err| panic!("bookings row {id}: {err}"))
}

async fn seats_available(stack: &Stack, event_id: i64) -> i32 {
    sqlx::query_scalar("SELECT seats_available FROM events WHERE id = $1")
        .bind(event_id)
        .fetch_one(stack.database.pool())
        .await
        .expect("read seats_available")
}

async fn total_seats_available(stack: &Stack) -> i64 {
    sqlx::query_scalar("SELECT sum(seats_available)::bigint FROM events")
        .fetch_one(stack.database.pool())
        .await
        .expect("sum seats_available")
}

/// A worker with `concurrency` threads on the stack's queue, writing as the owner.
async fn start_worker(stack: &Stack, concurrency: usize) -> SidekiqWorker {
    let database = stack.database.owner_url();
    SidekiqWorker::start(stack.redis.url(), database, &stack.queue, concurrency).await
}

/// Checks an outcome where the worker records it: the status record (`record`, as the
/// edge serves it, and the hash behind it) and the `bookings` row, with the same job id.
async fn assert_record(stack: &Stack, id: &str, record: &Value, expected: (&str, Option<&str>)) {
    let (status, reason) = expected;
    assert_eq!(record["status"], status, "{record}");
    assert_eq!(record["reason"].as_str(), reason, "{record}");
    assert!(record["processed_at_ms"].as_i64().is_some(), "{record}");

    let hash = stack.redis.hgetall(&format!("booking:{id}")).await;
    assert_eq!(hash["reason"], reason.unwrap_or_default());
    assert_eq!(hash["jid"].len(), 24, "{hash:?}");
    let row = booking_row(stack, id).await;
    assert_eq!((row.status.as_str(), row.reason.as_deref()), expected);
    assert_eq!(row.jid.as_deref(), Some(hash["jid"].as_str()));
    assert!(row.processed, "{row:?}");
}

/// Subscribes to the updates channel on a thread of its own (a blocking connection, so
/// no stream machinery) and hands back the first update for the booking id sent to it.
/// Updates published before the id arrives wait in the connection's buffer.
fn watch_updates(redis_url: &str) -> (mpsc::Sender<String>, JoinHandle<Option<Value>>) {
    let client = redis::Client::open(redis_url).expect("a Redis URL");
    let (ready_tx, ready_rx) = mpsc::channel();
    let (id_tx, id_rx) = mpsc::channel::<String>();
    let watcher = std::thread::spawn(move || {
        let mut conn = client.get_connection().expect("connect to Redis");
        let mut pubsub = conn.as_pubsub();
        pubsub.subscribe(UPDATES_CHANNEL).expect("subscribe");
        pubsub
            .set_read_timeout(Some(POLL_INTERVAL))
            .expect("set a read timeout");
        let _ = ready_tx.send(());

        let wanted = id_rx.recv_timeout(SETTLE_TIMEOUT).ok()?;
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        while Instant::now() < deadline {
            let Ok(message) = pubsub.get_message() else {
                continue; // the read timed out
            };
            let payload: String = message.get_payload().expect("a text payload");
            let update: Value = serde_json::from_str(&payload).expect("a JSON update");
            if update["id"] == wanted.as_str() {
                return Some(update);
            }
        }
        None
    });
    ready_rx.recv().expect("the watcher subscribed");
    (id_tx, watcher)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_with_seats_left_is_confirmed() {
    let stack = Stack::start().await;
    let worker = start_worker(&stack, 2).await;
    let (updates, watcher) = watch_updates(stack.redis.url());

    let (id, url) = book(&stack, 1, 2, "fan-1").await;
    updates.send(id.clone()).unwrap();
    let record = settled(stack.edge.addr(), &url, &worker).await;

    assert_record(&stack, &id, &record, ("confirmed", None)).await;
    assert_eq!(record["event_id"], 1);
    assert_eq!(record["quantity"], 2);
    assert_eq!(record["user_ref"], "fan-1");
    let row = booking_row(&stack, &id).await;
    assert_eq!(
        (row.event_id, row.quantity, row.user_ref.as_deref()),
        (Some(1), Some(2), Some("fan-1"))
    );
    assert_eq!(seats_available(&stack, 1).await, 1248);

    let update = watcher
        .join()
        .unwrap()
        .expect("an update on bookings:updates");
    assert_eq!(
        update,
        serde_json::json!({"id": id, "status": "confirmed", "reason": ""})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sold_out_event_rejects_and_keeps_its_seats() {
    let stack = Stack::start().await;
    let worker = start_worker(&stack, 2).await;

    let (id, url) = book(&stack, 4, 1, "fan-2").await;
    let record = settled(stack.edge.addr(), &url, &worker).await;

    assert_record(&stack, &id, &record, ("rejected", Some("sold_out"))).await;
    assert_eq!(seats_available(&stack, 4).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_event_is_rejected() {
    let stack = Stack::start().await;
    let worker = start_worker(&stack, 2).await;
    let seats_before = total_seats_available(&stack).await;

    let (id, url) = book(&stack, 999_999, 1, "fan-3").await;
    let record = settled(stack.edge.addr(), &url, &worker).await;

    assert_record(&stack, &id, &record, ("rejected", Some("unknown_event"))).await;
    assert_eq!(booking_row(&stack, &id).await.event_id, Some(999_999));
    assert_eq!(total_seats_available(&stack).await, seats_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_older_than_its_lifespan_expires_without_seats() {
    // The shipped route file with one change, so the job still comes from the edge.
    let shipped = shipped_routes();
    let routes = shipped.replacen(r#"lifespan = "2m""#, r#"lifespan = "1ms""#, 1);
    assert_ne!(
        routes, shipped,
        "routes.toml no longer sets lifespan = \"2m\""
    );
    let stack = Stack::start_with(|config| EdgeConfig {
        routes_toml: routes,
        ..config
    })
    .await;

    let (id, url) = book(&stack, 1, 2, "fan-4").await;
    let job = &stack.redis.sidekiq_jobs(&stack.queue).await[0];
    assert_eq!(job["lifespan_ms"], 1);
    // Booting Sidekiq takes far longer than 1 ms, so the job is stale when picked up.
    let worker = start_worker(&stack, 2).await;
    let record = settled(stack.edge.addr(), &url, &worker).await;

    assert_record(&stack, &id, &record, ("expired", Some("lifespan_exceeded"))).await;
    assert_eq!(seats_available(&stack, 1).await, 1250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_delivered_twice_takes_its_seat_once() {
    let stack = Stack::start().await;
    let (id, url) = book(&stack, 3, 1, "fan-5").await;
    // The same payload again, as a redelivery or a second push would bring it.
    let queue = format!("queue:{}", stack.queue);
    let payload = stack.redis.lrange(&queue).await.remove(0);
    let mut conn = stack.redis.conn();
    let _: i64 = conn.lpush(&queue, &payload).await.unwrap();

    let worker = start_worker(&stack, 2).await;
    let record = settled(stack.edge.addr(), &url, &worker).await;
    let line = format!("booking {id}: confirmed");
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    while worker.logs().matches(&line).count() < 2 {
        assert!(
            Instant::now() < deadline,
            "no second delivery:\n{}",
            worker.logs()
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }

    assert_record(&stack, &id, &record, ("confirmed", None)).await;
    assert_eq!(seats_available(&stack, 3).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_breaks_the_contract_is_rejected_without_a_row() {
    let stack = Stack::start().await;
    let (_, url) = book(&stack, 3, 1, "fan-6").await;
    // The edge never sends this, so the edge's own job is edited: quantity 0.
    edit_queued_job(&stack, |job| job["args"][3] = 0.into()).await;

    let worker = start_worker(&stack, 2).await;
    let record = settled(stack.edge.addr(), &url, &worker).await;

    assert_eq!(record["status"], "rejected");
    assert_eq!(record["reason"], "invalid_args:quantity");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM bookings")
        .fetch_one(stack.database.pool())
        .await
        .unwrap();
    assert_eq!(rows, 0, "a job that breaks the contract leaves no row");
    assert_eq!(seats_available(&stack, 3).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_fans_racing_for_two_seats_get_exactly_two() {
    let stack = Stack::start().await;
    let mut posts = JoinSet::new();
    for fan in 0..20 {
        let addr = stack.edge.addr();
        posts.spawn(async move {
            let body = format!(r#"{{"event_id": 3, "quantity": 1, "user_ref": "fan-{fan}"}}"#);
            let accepted = post_json(addr, "/api/bookings", &body).await;
            assert_eq!(accepted.status, 202, "{}", accepted.text());
            accepted.json()["status_url"].as_str().unwrap().to_owned()
        });
    }
    let urls = posts.join_all().await;

    // Started once every job is queued, so ten threads take jobs at the same moment.
    let worker = start_worker(&stack, 10).await;
    let mut outcomes = Vec::new();
    for url in &urls {
        let record = settled(stack.edge.addr(), url, &worker).await;
        outcomes.push((record["status"].clone(), record["reason"].clone()));
    }

    let count = |status: &str, reason: Value| {
        let wanted = (Value::from(status), reason);
        outcomes
            .iter()
            .filter(|outcome| **outcome == wanted)
            .count()
    };
    let confirmed = count("confirmed", Value::Null);
    let sold_out = count("rejected", Value::from("sold_out"));
    assert_eq!((confirmed, sold_out), (2, 18), "{outcomes:?}");
    assert_eq!(seats_available(&stack, 3).await, 0);
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, count(*) FROM bookings WHERE event_id = 3 GROUP BY status ORDER BY status",
    )
    .fetch_all(stack.database.pool())
    .await
    .unwrap();
    assert_eq!(rows, [("confirmed".into(), 2), ("rejected".into(), 18)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_with_the_wrong_number_of_arguments_is_rejected_not_retried() {
    let stack = Stack::start().await;
    let (_, url) = book(&stack, 3, 1, "fan-7").await;
    edit_queued_job(&stack, |job| {
        job["args"].as_array_mut().unwrap().push("extra".into());
    })
    .await;

    let worker = start_worker(&stack, 2).await;
    let record = settled(stack.edge.addr(), &url, &worker).await;
    assert_eq!(record["status"], "rejected");
    assert_eq!(record["reason"], "invalid_args:args");
}

/// Replaces the one job the edge queued with an edited copy, as a broken client would
/// have sent it.
async fn edit_queued_job(stack: &Stack, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut job = stack.redis.sidekiq_jobs(&stack.queue).await.remove(0);
    edit(&mut job);
    let queue = format!("queue:{}", stack.queue);
    stack.redis.del(&queue).await;
    let mut conn = stack.redis.conn();
    let _: i64 = conn.lpush(&queue, job.to_string()).await.unwrap();
}
