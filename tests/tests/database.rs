//! The edge and the shared database: it reads as a role that cannot write, and it
//! refuses to start when columns it reads are missing.

use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};
use switchyard_tests::{shipped_routes, Edge, EdgeConfig, RecordingUpstream, TestDatabase};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_role_reads_but_cannot_write() {
    let database = TestDatabase::create().await;
    let mut edge = PgConnection::connect(database.edge_url()).await.unwrap();

    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM events")
        .fetch_one(&mut edge)
        .await
        .unwrap();
    assert_eq!(count, 5);
    let _ = sqlx::query("SELECT id, status FROM bookings")
        .fetch_all(&mut edge)
        .await
        .unwrap();

    let writes = [
        "INSERT INTO events (id, name, seats_total, seats_available) VALUES (900, 'x', 1, 1)",
        "UPDATE events SET seats_available = 0",
        "DELETE FROM bookings",
        "CREATE TABLE sneaky (id int)",
    ];
    for statement in writes {
        // Even a transaction that asks to write must be refused by the grants themselves.
        let mut transaction = edge.begin().await.unwrap();
        transaction
            .execute("SET TRANSACTION READ WRITE")
            .await
            .unwrap();
        let error = transaction.execute(statement).await.expect_err(statement);
        let message = error.to_string();
        assert!(
            message.contains("permission denied"),
            "{statement}: {message}"
        );
        transaction.rollback().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_column_stops_the_edge_at_start_up() {
    let database = TestDatabase::create().await;
    sqlx::query("ALTER TABLE events RENAME COLUMN seats_available TO seats_left")
        .execute(database.pool())
        .await
        .unwrap();
    let upstream = RecordingUpstream::start().await;

    let config = EdgeConfig::new(shipped_routes())
        .env("DATABASE_URL", database.edge_url())
        .env("SWITCHYARD_UPSTREAM", upstream.addr().to_string());
    let failed = Edge::try_start(config)
        .await
        .err()
        .expect("the edge started without the column");
    assert!(failed.status.is_some_and(|s| !s.success()));
    assert!(
        failed.logs.contains("events.seats_available"),
        "{}",
        failed.logs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_does_not_stop_the_edge() {
    let upstream = RecordingUpstream::start().await;
    let config = EdgeConfig::new(shipped_routes())
        .env(
            "DATABASE_URL",
            "postgres://switchyard_edge@127.0.0.1:9/none",
        )
        .env("SWITCHYARD_UPSTREAM", upstream.addr().to_string());
    let edge = Edge::start(config).await;
    edge.wait_for_log("schema not verified", Duration::from_secs(5))
        .await;
    let response = switchyard_tests::get(edge.addr(), "/").await;
    assert_eq!(response.status, 200);
}
