//! `switchyard worker` against a real Redis and PostgreSQL: the contract's outcomes, a
//! race for the last seats, a crash mid-batch, a job delivered twice, Sidekiq's retry and
//! dead sets, and a graceful stop. Every test has its own database and queue, and the
//! worker writes as the database's owner, never as the edge's read-only role.

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::time::Duration;

use redis::AsyncCommands;
use serde_json::{json, Value};
use sqlx::{Connection, Executor, PgConnection, PgPool};
use switchyard_tests::{
    binary_path, get, now_ms, poll, post_json, BookingJob, SidekiqWorker, Signal, Stack,
    TestDatabase, TestRedis, Updates, WorkerConfig, WorkerProcess,
};
use tokio::task::JoinSet;
use uuid::Uuid;

/// How long jobs may take to reach their outcome once a worker runs.
const SETTLE: Duration = Duration::from_secs(20);

/// The seed's seats per event, before any booking.
const SEATS_EVENT_1: i32 = 1250;

/// A worker on `queue` writing to `database` as its owner.
fn worker_for(redis: &TestRedis, database: &TestDatabase, queue: &str) -> WorkerConfig {
    WorkerConfig::new(redis.url(), database.owner_url(), queue)
}

/// POSTs a booking to the edge; returns its id.
async fn book(stack: &Stack, event_id: i64, quantity: i64, user_ref: &str) -> String {
    let body =
        format!(r#"{{"event_id": {event_id}, "quantity": {quantity}, "user_ref": "{user_ref}"}}"#);
    let response = post_json(stack.edge.addr(), "/api/bookings", &body).await;
    assert_eq!(response.status, 202, "{}", response.text());
    response.json()["booking_id"]
        .as_str()
        .expect("a booking id")
        .to_owned()
}

/// Pushes every job in one round trip, in order (so the first is fetched first).
async fn enqueue_all(redis: &TestRedis, jobs: &[BookingJob]) {
    let mut pipe = redis::pipe();
    for job in jobs {
        pipe.lpush(format!("queue:{}", job.queue), job.payload())
            .ignore();
    }
    pipe.query_async::<()>(&mut redis.conn())
        .await
        .expect("enqueue the jobs");
}

async fn seats(pool: &PgPool, event_id: i64) -> i32 {
    sqlx::query_scalar("SELECT seats_available FROM events WHERE id = $1")
        .bind(event_id)
        .fetch_one(pool)
        .await
        .expect("read seats")
}

async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"))
}

/// `(status, reason, jid)` of a booking's row, if it has one.
async fn row(pool: &PgPool, id: &str) -> Option<(String, Option<String>, Option<String>)> {
    let id = Uuid::parse_str(id).expect("a UUID");
    sqlx::query_as("SELECT status, reason, jid FROM bookings WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
        .expect("read a booking row")
}

/// The ids of every booking row.
async fn row_ids(pool: &PgPool) -> HashSet<String> {
    let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM bookings")
        .fetch_all(pool)
        .await
        .expect("read booking ids");
    ids.iter().map(Uuid::to_string).collect()
}

/// The `status` field of each booking's record, in one round trip.
async fn statuses(redis: &TestRedis, ids: &[String]) -> Vec<Option<String>> {
    let mut pipe = redis::pipe();
    for id in ids {
        pipe.hget(format!("booking:{id}"), "status");
    }
    pipe.query_async(&mut redis.conn())
        .await
        .expect("read statuses")
}

/// Waits until every booking's record has a final status; returns the statuses.
async fn settled(redis: &TestRedis, ids: &[String], worker: &WorkerProcess) -> Vec<String> {
    let what = format!(
        "{} final status records; worker logs:\n{}",
        ids.len(),
        worker.logs()
    );
    poll(SETTLE, &what, || async {
        let found = statuses(redis, ids).await;
        let done = found
            .iter()
            .all(|s| s.as_deref().is_some_and(|s| s != "pending"));
        done.then(|| found.into_iter().flatten().collect())
    })
    .await
}

/// The booking ids in the queue's payloads.
async fn queued_ids(redis: &TestRedis, queue: &str) -> HashSet<String> {
    let jobs = redis.sidekiq_jobs(queue).await;
    jobs.iter()
        .map(|job| job["args"][0].as_str().expect("a booking id").to_owned())
        .collect()
}

/// The entry for `jid` in the sorted set `key`, with its score.
async fn find_in(redis: &TestRedis, key: &str, jid: &str) -> Option<(Value, f64, String)> {
    let entries: Vec<(String, f64)> = redis
        .conn()
        .zrange_withscores(key, 0, -1)
        .await
        .expect("read a sorted set");
    entries.into_iter().find_map(|(member, score)| {
        let job: Value = serde_json::from_str(&member).ok()?;
        (job["jid"] == jid).then_some((job, score, member))
    })
}

/// Deletes status records the test made; they would otherwise live a day.
async fn forget(redis: &TestRedis, ids: impl IntoIterator<Item = &String>) {
    for id in ids {
        redis.del(&format!("booking:{id}")).await;
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("a local address").port();
    drop(listener);
    port
}

/// Sessions of the database's waiting on a lock.
async fn lock_waiters(pool: &PgPool, database: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
    )
    .bind(database)
    .fetch_one(pool)
    .await
    .expect("read pg_stat_activity")
}

/// Takes event `event_id`'s row lock on a connection of its own, so bookings of it wait.
async fn hold_event(database: &TestDatabase, event_id: i64) -> PgConnection {
    let mut holder = PgConnection::connect(database.owner_url())
        .await
        .expect("connect to hold a lock");
    holder.execute("BEGIN").await.expect("begin");
    let lock = format!("SELECT 1 FROM events WHERE id = {event_id} FOR UPDATE");
    holder.execute(lock.as_str()).await.expect("lock the event");
    holder
}

#[test]
fn help_says_what_the_worker_does() {
    let output = Command::new(binary_path())
        .args(["worker", "--help"])
        .output()
        .expect("run switchyard worker --help");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "Sidekiq",
        "--redis-url",
        "REDIS_URL",
        "--database-url",
        "WORKER_DATABASE_URL",
        "--queue",
        "--job-class",
        "--concurrency",
        "--lifespan",
        "--shutdown-timeout",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edges_read_only_role_is_refused_at_start() {
    let database = TestDatabase::create().await;
    let redis = TestRedis::connect().await;
    let queue = redis.unique_queue();
    let mut worker =
        WorkerProcess::launch(WorkerConfig::new(redis.url(), database.edge_url(), &queue));
    let status = worker
        .wait_exit(SETTLE)
        .await
        .expect("the worker refuses to start");
    assert_eq!(status.code(), Some(1), "{}", worker.logs());
    assert!(worker.logs().contains("read-only"), "{}", worker.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_outcome_lands_in_the_record_the_update_and_the_table() {
    let stack = Stack::start().await;
    let pool = stack.database.pool();
    let mut updates = Updates::subscribe(stack.redis.url()).await;
    let confirmed = book(&stack, 1, 2, "fan-1").await;
    let sold_out = book(&stack, 4, 1, "fan-2").await;
    let unknown = book(&stack, 999_999, 1, "fan-3").await;
    let jobs = stack.redis.sidekiq_jobs(&stack.queue).await;
    let text = |value: &Value| value.as_str().expect("a string").to_owned();
    let jids: HashMap<String, String> = jobs
        .iter()
        .map(|job| (text(&job["args"][0]), text(&job["jid"])))
        .collect();
    // Pushed directly: the edge never sends these.
    let mut stale = BookingJob::new(&stack.queue, 1, 3);
    stale.enqueued_at_ms -= 10 * 60 * 1000;
    let bad = BookingJob::new(&stack.queue, 3, 0);
    enqueue_all(&stack.redis, &[stale.clone(), bad.clone()]).await;

    let started_ms = now_ms();
    let config = worker_for(&stack.redis, &stack.database, &stack.queue);
    let mut worker = WorkerProcess::start(config).await;
    let ids = [
        &confirmed,
        &sold_out,
        &unknown,
        &stale.booking_id,
        &bad.booking_id,
    ];
    let wanted: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
    let published = updates.collect(&wanted, ids.len(), SETTLE).await;

    let expected = [
        (&confirmed, "confirmed", "", jids[&confirmed].as_str()),
        (&sold_out, "rejected", "sold_out", jids[&sold_out].as_str()),
        (
            &unknown,
            "rejected",
            "unknown_event",
            jids[&unknown].as_str(),
        ),
        (
            &stale.booking_id,
            "expired",
            "lifespan_exceeded",
            stale.jid.as_str(),
        ),
        (
            &bad.booking_id,
            "rejected",
            "invalid_args:quantity",
            bad.jid.as_str(),
        ),
    ];
    for (id, status, reason, jid) in expected {
        let update = published.iter().find(|u| u["id"] == id.as_str());
        let want = json!({"id": id, "status": status, "reason": reason});
        assert_eq!(update, Some(&want), "{published:?}");

        let key = format!("booking:{id}");
        let record = stack.redis.hgetall(&key).await;
        assert_eq!(
            (record["status"].as_str(), record["reason"].as_str()),
            (status, reason)
        );
        assert_eq!(record["jid"], jid);
        let processed: i64 = record["processed_at_ms"].parse().expect("milliseconds");
        assert!((started_ms..=now_ms()).contains(&processed), "{record:?}");
        let ttl: i64 = stack.redis.conn().ttl(&key).await.expect("TTL");
        assert!((86_000..=86_400).contains(&ttl), "ttl {ttl}");
    }

    // The contract's echo of the job, and what the client reads through the edge.
    let record = stack.redis.hgetall(&format!("booking:{confirmed}")).await;
    let echoed = ["event_id", "quantity", "user_ref"].map(|f| record[f].clone());
    assert_eq!(echoed, ["1", "2", "fan-1"]);
    let served = get(stack.edge.addr(), &format!("/api/bookings/{confirmed}")).await;
    assert_eq!(served.json()["status"], "confirmed");

    // Rows for the four valid jobs, none for the one that breaks the contract.
    for (id, status, reason, jid) in &expected[..4] {
        let reason = Some(reason.to_string()).filter(|r| !r.is_empty());
        let want = (status.to_string(), reason, Some(jid.to_string()));
        assert_eq!(row(pool, id).await, Some(want), "{id}");
    }
    assert_eq!(row(pool, &bad.booking_id).await, None);
    assert_eq!(
        seats(pool, 1).await,
        SEATS_EVENT_1 - 2,
        "only the confirmed booking's seats"
    );
    assert_eq!((seats(pool, 3).await, seats(pool, 4).await), (2, 0));

    assert_eq!(worker.stop().await.code(), Some(0), "{}", worker.logs());
    forget(&stack.redis, ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_bookings_racing_for_two_seats_confirm_exactly_two() {
    let stack = Stack::start().await;
    let mut posts = JoinSet::new();
    for fan in 0..20 {
        let addr = stack.edge.addr();
        let body = format!(r#"{{"event_id": 3, "quantity": 1, "user_ref": "racer-{fan}"}}"#);
        posts.spawn(async move { post_json(addr, "/api/bookings", &body).await });
    }
    let mut ids = Vec::new();
    while let Some(response) = posts.join_next().await {
        let response = response.expect("a booking request");
        assert_eq!(response.status, 202, "{}", response.text());
        ids.push(
            response.json()["booking_id"]
                .as_str()
                .expect("an id")
                .to_owned(),
        );
    }

    let config = worker_for(&stack.redis, &stack.database, &stack.queue).arg("--concurrency", "10");
    let mut worker = WorkerProcess::start(config).await;
    let outcomes = settled(&stack.redis, &ids, &worker).await;

    let confirmed = outcomes.iter().filter(|s| *s == "confirmed").count();
    assert_eq!(confirmed, 2, "{outcomes:?}");
    for id in &ids {
        let record = stack.redis.hgetall(&format!("booking:{id}")).await;
        let reason = record["reason"].as_str();
        assert!(
            matches!(
                (record["status"].as_str(), reason),
                ("confirmed", "") | ("rejected", "sold_out")
            ),
            "{record:?}"
        );
    }
    let pool = stack.database.pool();
    assert_eq!(seats(pool, 3).await, 0);
    let by_status: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, count(*) FROM bookings WHERE event_id = 3 GROUP BY status ORDER BY status",
    )
    .fetch_all(pool)
    .await
    .expect("count rows");
    assert_eq!(
        by_status,
        [("confirmed".into(), 2), ("rejected".into(), 18)]
    );

    // Ctrl-C stops it as SIGTERM does.
    worker.signal(Signal::SIGINT);
    let status = worker
        .wait_exit(SETTLE)
        .await
        .expect("the worker exits on SIGINT");
    assert_eq!(status.code(), Some(0), "{}", worker.logs());
    assert!(worker.logs().contains("SIGINT received"));
    forget(&stack.redis, &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beside_the_ruby_worker_on_one_queue_no_seat_is_sold_twice() {
    let stack = Stack::start().await;
    let owner = stack.database.owner_url();
    let mut ruby = SidekiqWorker::start(stack.redis.url(), owner, &stack.queue, 5).await;
    let config = worker_for(&stack.redis, &stack.database, &stack.queue);
    let mut rust = WorkerProcess::start(config).await;

    // Both are idle and blocked on the queue, so Redis hands the jobs out to both.
    let mut posts = JoinSet::new();
    for fan in 0..40 {
        let addr = stack.edge.addr();
        let event_id = if fan % 2 == 0 { 3 } else { 1 };
        let body = format!(r#"{{"event_id": {event_id}, "quantity": 1, "user_ref": "fan-{fan}"}}"#);
        posts.spawn(async move { post_json(addr, "/api/bookings", &body).await });
    }
    let mut ids = Vec::new();
    while let Some(response) = posts.join_next().await {
        let response = response.expect("a booking request");
        assert_eq!(response.status, 202, "{}", response.text());
        ids.push(
            response.json()["booking_id"]
                .as_str()
                .expect("an id")
                .to_owned(),
        );
    }
    settled(&stack.redis, &ids, &rust).await;

    let pool = stack.database.pool();
    let by_event: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT event_id, status, count(*) FROM bookings GROUP BY event_id, status ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
    .expect("count rows");
    let expected = [
        (1, "confirmed", 20),
        (3, "confirmed", 2),
        (3, "rejected", 18),
    ];
    let expected: Vec<(i64, String, i64)> = expected
        .iter()
        .map(|(e, s, n)| (*e, s.to_string(), *n))
        .collect();
    assert_eq!(by_event, expected);
    assert_eq!(
        (seats(pool, 1).await, seats(pool, 3).await),
        (SEATS_EVENT_1 - 20, 0)
    );
    let ruby_ran = ruby.logs().matches("booking ").count();
    let rust_ran = rust.logs().matches(" jid=").count();
    assert!(
        ruby_ran > 0 && rust_ran > 0,
        "ruby {ruby_ran}, rust {rust_ran}"
    );

    assert_eq!(rust.stop().await.code(), Some(0));
    ruby.stop();
    forget(&stack.redis, &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_batch_loses_no_job() {
    let database = TestDatabase::create().await;
    let redis = TestRedis::connect().await;
    let queue = redis.unique_queue();
    let pool = database.pool();
    // Every tenth booking races for event 3's two seats; the rest take 1 to 3 of event 5's.
    let jobs: Vec<BookingJob> = (0..200)
        .map(|n| match n % 10 {
            0 => BookingJob::new(&queue, 3, 1),
            _ => BookingJob::new(&queue, 5, n % 3 + 1),
        })
        .collect();
    let ids: Vec<String> = jobs.iter().map(|job| job.booking_id.clone()).collect();
    let seats_before = [seats(pool, 3).await, seats(pool, 5).await];
    enqueue_all(&redis, &jobs).await;

    let config = worker_for(&redis, &database, &queue).arg("--concurrency", "2");
    let mut doomed = WorkerProcess::start(config.clone()).await;
    let identity = doomed.identity();
    let count = "SELECT count(*) FROM bookings";
    poll(SETTLE, "a first share of bookings", || async {
        (scalar(pool, count).await >= 20).then_some(())
    })
    .await;
    doomed.kill();
    let done_at_kill = scalar(pool, count).await;
    assert!(done_at_kill < 200, "the batch finished before the kill");

    let mut successor = WorkerProcess::start(config).await;
    settled(&redis, &ids, &successor).await;
    assert_eq!(
        row_ids(pool).await,
        ids.iter().cloned().collect::<HashSet<_>>()
    );
    assert_eq!(scalar(pool, count).await, 200, "each booking exactly once");
    assert!(redis.lrange(&format!("queue:{queue}")).await.is_empty());

    // The dead worker was noticed, and its in-progress list emptied and forgotten.
    let registry = poll(SETTLE, "the killed worker to be forgotten", || async {
        let known: bool = redis
            .conn()
            .hexists("switchyard:workers", &identity)
            .await
            .ok()?;
        (!known).then_some(())
    });
    registry.await;
    let in_progress = format!("switchyard:worker:{identity}:inprogress");
    assert!(redis.lrange(&in_progress).await.is_empty());

    // Seats taken match the confirmed bookings, event by event.
    for (event_id, before) in [3, 5].into_iter().zip(seats_before) {
        let confirmed: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(quantity), 0) FROM bookings \
             WHERE event_id = $1 AND status = 'confirmed'",
        )
        .bind(event_id)
        .fetch_one(pool)
        .await
        .expect("sum confirmed seats");
        assert_eq!(
            i64::from(before - seats(pool, event_id).await),
            confirmed,
            "event {event_id}"
        );
    }
    assert_eq!(seats(pool, 3).await, 0);

    assert_eq!(successor.stop().await.code(), Some(0));
    forget(&redis, &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_delivered_twice_takes_its_seats_once() {
    let database = TestDatabase::create().await;
    let redis = TestRedis::connect().await;
    let queue = redis.unique_queue();
    let pool = database.pool();
    let mut updates = Updates::subscribe(redis.url()).await;
    let job = BookingJob::new(&queue, 1, 2);
    let id = job.booking_id.as_str();
    // The same payload twice: both deliveries run at once on different processors.
    enqueue_all(&redis, &[job.clone(), job.clone()]).await;

    let mut worker = WorkerProcess::start(worker_for(&redis, &database, &queue)).await;
    let published = updates.collect(&[id], 2, SETTLE).await;
    let confirmed = json!({"id": id, "status": "confirmed", "reason": ""});
    assert_eq!(published, [confirmed.clone(), confirmed.clone()]);
    worker.wait_for_log("delivery=repeat", SETTLE).await;
    let record = redis.hgetall(&format!("booking:{id}")).await;
    assert_eq!(record["status"], "confirmed");

    // A late redelivery, long after: the same outcome and the very same record.
    job.enqueue(&mut redis.conn()).await;
    assert_eq!(updates.collect(&[id], 1, SETTLE).await, [confirmed]);
    assert_eq!(redis.hgetall(&format!("booking:{id}")).await, record);

    assert_eq!(scalar(pool, "SELECT count(*) FROM bookings").await, 1);
    assert_eq!(seats(pool, 1).await, SEATS_EVENT_1 - 2);
    let logs = worker.logs();
    assert_eq!(logs.matches("delivery=first").count(), 1, "{logs}");
    assert_eq!(logs.matches("delivery=repeat").count(), 2, "{logs}");
    assert_eq!(worker.stop().await.code(), Some(0));
    forget(&redis, [&job.booking_id]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_files_jobs_as_sidekiq_does() {
    let redis = TestRedis::connect().await;
    let queue = redis.unique_queue();
    let retried = BookingJob::new(&queue, 1, 1);
    let mut dropped = BookingJob::new(&queue, 1, 1);
    dropped.retry = json!(false);
    enqueue_all(&redis, &[retried.clone(), dropped.clone()]).await;

    let unreachable = format!("postgres://postgres@127.0.0.1:{}/switchyard", closed_port());
    let failing =
        WorkerConfig::new(redis.url(), &unreachable, &queue).arg("--connect-timeout", "1s");
    let before = now_ms() as f64 / 1000.0;
    let mut worker = WorkerProcess::start(failing).await;
    let (job, score, member) = poll(SETTLE, "the job in retry", || {
        find_in(&redis, "retry", &retried.jid)
    })
    .await;
    let after = now_ms() as f64 / 1000.0;

    // Sidekiq's fields, beside the job's own, which are unchanged.
    let original: Value = serde_json::from_str(&retried.payload()).expect("JSON");
    for field in [
        "class",
        "args",
        "queue",
        "jid",
        "retry",
        "created_at",
        "enqueued_at",
        "lifespan_ms",
    ] {
        assert_eq!(job[field], original[field], "{field}");
    }
    assert_eq!(job["retry_count"], 0);
    assert_eq!(job["error_class"], "Switchyard::DatabaseUnavailable");
    assert!(
        !job["error_message"].as_str().unwrap_or("").is_empty(),
        "{job}"
    );
    let failed_at = job["failed_at"]
        .as_f64()
        .expect("failed_at in float seconds");
    assert!(
        job["failed_at"].is_f64() && (before..=after).contains(&failed_at),
        "{job}"
    );
    assert!(job.get("retried_at").is_none());
    // First retry: 15 seconds plus up to 9 of jitter.
    assert!(
        score >= failed_at + 15.0 && score <= failed_at + 24.001,
        "score {score}, {job}"
    );

    let (dead, dead_score, dead_member) = poll(SETTLE, "the retry: false job in dead", || {
        find_in(&redis, "dead", &dropped.jid)
    })
    .await;
    assert_eq!(
        (dead["retry_count"].clone(), dead["retry"].clone()),
        (json!(0), json!(false))
    );
    assert_eq!(dead["error_class"], "Switchyard::DatabaseUnavailable");
    assert!(
        (before..=now_ms() as f64 / 1000.0).contains(&dead_score),
        "{dead_score}"
    );
    // A job given up on tells its client so, instead of leaving it pending for a day.
    let given_up = redis
        .hgetall(&format!("booking:{}", dropped.booking_id))
        .await;
    assert_eq!(given_up.get("status").map(String::as_str), Some("rejected"));
    assert_eq!(
        given_up.get("reason").map(String::as_str),
        Some("processing_failed")
    );

    let identity = worker.identity();
    assert_eq!(worker.stop().await.code(), Some(0));
    assert!(redis
        .lrange(&format!("switchyard:worker:{identity}:inprogress"))
        .await
        .is_empty());
    assert!(redis
        .hgetall(&format!("booking:{}", retried.booking_id))
        .await
        .is_empty());

    // Once due (moved forward here), any worker's retry poller puts it back in its own
    // queue, whatever queue that worker fetches from: here one on another queue, so the
    // job waits where the test can read it.
    let database = TestDatabase::create().await;
    let due_at = now_ms() as f64 / 1000.0;
    let _: i64 = redis
        .conn()
        .zadd("retry", &member, due_at - 1.0)
        .await
        .expect("make it due");
    // A Sidekiq 8 job keeps integer milliseconds.
    let sidekiq_8 = BookingJob::new(&queue, 1, 1);
    let mut eight: Value = serde_json::from_str(&sidekiq_8.payload()).expect("JSON");
    for field in ["created_at", "enqueued_at", "failed_at"] {
        eight[field] = json!(sidekiq_8.enqueued_at_ms);
    }
    eight["retry_count"] = json!(0);
    let _: i64 = redis
        .conn()
        .zadd("retry", eight.to_string(), due_at - 1.0)
        .await
        .expect("add a due Sidekiq 8 job");

    let elsewhere = redis.unique_queue();
    let poller = WorkerProcess::start(worker_for(&redis, &database, &elsewhere)).await;
    let requeued = poll(SETTLE, "both retries back in their queue", || async {
        let jobs = redis.sidekiq_jobs(&queue).await;
        (jobs.len() == 2).then_some(jobs)
    })
    .await;
    drop(poller);
    let by_jid = |jid: &str| requeued.iter().find(|j| j["jid"] == jid).expect("requeued");
    let (requeued, requeued_8) = (by_jid(&retried.jid), by_jid(&sidekiq_8.jid));
    assert!(find_in(&redis, "retry", &retried.jid).await.is_none());
    for field in [
        "args",
        "jid",
        "retry_count",
        "failed_at",
        "error_class",
        "created_at",
    ] {
        assert_eq!(requeued[field], job[field], "{field}");
    }
    // Reset on the push, as Sidekiq's client does, in the job's own unit.
    let enqueued_at = requeued["enqueued_at"].as_f64().expect("float seconds");
    assert!(
        requeued["enqueued_at"].is_f64() && enqueued_at >= due_at,
        "{requeued}"
    );
    let enqueued_at_8 = requeued_8["enqueued_at"].as_i64().expect("integer ms");
    assert!(
        enqueued_at_8 as f64 >= due_at * 1000.0 - 1.0,
        "{requeued_8}"
    );
    assert_eq!(requeued_8["args"], eight["args"]);

    // With the database back, the job runs: the same booking, on its second attempt.
    let mut worker = WorkerProcess::start(worker_for(&redis, &database, &queue)).await;
    let ids = [retried.booking_id.clone(), sidekiq_8.booking_id.clone()];
    assert_eq!(
        settled(&redis, &ids, &worker).await,
        ["confirmed", "confirmed"]
    );
    assert_eq!(
        row(database.pool(), &retried.booking_id)
            .await
            .map(|r| r.0)
            .as_deref(),
        Some("confirmed")
    );

    assert_eq!(worker.stop().await.code(), Some(0));
    let _: i64 = redis
        .conn()
        .zrem("dead", &dead_member)
        .await
        .expect("clean dead");
    forget(&redis, &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_jobs_in_flight_finish_and_gives_back_the_rest() {
    let database = TestDatabase::create().await;
    let redis = TestRedis::connect().await;
    let queue = redis.unique_queue();
    let pool = database.pool();
    // Ten bookings that run at once, then fifty that wait on event 5's row lock.
    let mut jobs: Vec<BookingJob> = (0..10).map(|_| BookingJob::new(&queue, 1, 1)).collect();
    jobs.extend((0..50).map(|_| BookingJob::new(&queue, 5, 1)));
    let ids: Vec<String> = jobs.iter().map(|job| job.booking_id.clone()).collect();
    let mut holder = hold_event(&database, 5).await;
    enqueue_all(&redis, &jobs).await;

    let config = worker_for(&redis, &database, &queue)
        .arg("--concurrency", "5")
        .arg("--shutdown-timeout", "10s");
    let mut worker = WorkerProcess::start(config).await;
    let identity = worker.identity();
    poll(SETTLE, "five jobs in flight", || async {
        (lock_waiters(pool, database.name()).await == 5).then_some(())
    })
    .await;
    assert_eq!(scalar(pool, "SELECT count(*) FROM bookings").await, 10);

    worker.signal(Signal::SIGTERM);
    worker.wait_for_log("stopping", SETTLE).await;
    holder.execute("COMMIT").await.expect("release the event");
    let status = worker.wait_exit(SETTLE).await.expect("the worker exits");
    assert_eq!(status.code(), Some(0), "{}", worker.logs());

    // Every job is in exactly one place: done (with its record) or back in the queue.
    let done = row_ids(pool).await;
    let waiting = queued_ids(&redis, &queue).await;
    assert_eq!((done.len(), waiting.len()), (15, 45));
    assert!(done.is_disjoint(&waiting));
    assert_eq!(done.union(&waiting).count(), 60);
    let done: Vec<String> = done.into_iter().collect();
    assert!(statuses(&redis, &done)
        .await
        .iter()
        .all(|s| s.as_deref() == Some("confirmed")));
    assert!(redis
        .lrange(&format!("switchyard:worker:{identity}:inprogress"))
        .await
        .is_empty());
    let known: bool = redis
        .conn()
        .hexists("switchyard:workers", &identity)
        .await
        .expect("HEXISTS");
    assert!(!known, "a clean stop forgets the worker");
    forget(&redis, &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_still_running_at_the_shutdown_timeout_go_back_to_the_queue() {
    let database = TestDatabase::create().await;
    let redis = TestRedis::connect().await;
    let queue = redis.unique_queue();
    let pool = database.pool();
    let jobs: Vec<BookingJob> = (0..20).map(|_| BookingJob::new(&queue, 5, 1)).collect();
    let ids: Vec<String> = jobs.iter().map(|job| job.booking_id.clone()).collect();
    let mut holder = hold_event(&database, 5).await;
    enqueue_all(&redis, &jobs).await;

    let config = worker_for(&redis, &database, &queue)
        .arg("--concurrency", "3")
        .arg("--shutdown-timeout", "500ms");
    let mut worker = WorkerProcess::start(config).await;
    poll(SETTLE, "three jobs in flight", || async {
        (lock_waiters(pool, database.name()).await == 3).then_some(())
    })
    .await;
    let status = worker.terminate(SETTLE).await;
    assert_eq!(status.code(), Some(0), "{}", worker.logs());
    assert!(
        worker.logs().contains("did not finish"),
        "{}",
        worker.logs()
    );

    // The abandoned transactions roll back once the lock is free and they notice the
    // worker is gone.
    holder.execute("COMMIT").await.expect("release the event");
    poll(SETTLE, "the worker's sessions to end", || async {
        let sessions: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = $1 AND application_name = 'switchyard worker'",
        )
        .bind(database.name())
        .fetch_one(pool)
        .await
        .ok()?;
        (sessions == 0).then_some(())
    })
    .await;
    assert_eq!(scalar(pool, "SELECT count(*) FROM bookings").await, 0);
    assert_eq!(
        queued_ids(&redis, &queue).await,
        ids.iter().cloned().collect()
    );
    assert_eq!(seats(pool, 5).await, 82_500);
}
