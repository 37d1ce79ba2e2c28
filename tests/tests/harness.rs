//! Checks of the support library itself against the real PostgreSQL.

use sqlx::{Connection, PgConnection};
use switchyard_tests::{admin_url, TestDatabase};

/// Whether a database called `name` exists on the test cluster.
async fn database_exists(name: &str) -> bool {
    let mut admin = PgConnection::connect(&admin_url())
        .await
        .expect("connect as admin");
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut admin)
        .await
        .expect("query pg_database");
    let _ = admin.close().await;
    found.is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_database_exists_while_held_and_is_dropped_after() {
    let db = TestDatabase::create().await;
    let name = db.name().to_string();
    assert!(name.starts_with("switchyard_t_"), "unexpected name {name}");

    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(db.pool())
        .await
        .expect("query through the owner pool");
    assert_eq!(one, 1);
    assert!(
        database_exists(&name).await,
        "{name} should exist while held"
    );

    drop(db);
    assert!(
        !database_exists(&name).await,
        "{name} should be gone after drop"
    );
}
