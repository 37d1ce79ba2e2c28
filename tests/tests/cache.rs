//! The micro-cache of a native route: a hot read is answered from memory for
//! `cache_ttl`, says its age, keeps parameters apart, and is rendered again after.

use std::time::{Duration, Instant};

use switchyard_tests::{get, Edge, EdgeConfig, TestDatabase};

async fn cached_edge(database: &TestDatabase, ttl: &str) -> Edge {
    let routes = format!(
        "[server]\ndefault_upstream = \"legacy\"\n[admin]\nlisten = \"${{SWITCHYARD_ADMIN_LISTEN}}\"\n\
         [stores]\ndatabase_url = \"{}\"\n\
         [upstreams.legacy]\naddresses = [\"127.0.0.1:9\"]\n\
         [[routes]]\nname = \"events.show\"\npath = \"/api/events/{{id}}\"\nhandler = \"catalog.show_event\"\ncache_ttl = \"{ttl}\"\n",
        database.edge_url()
    );
    Edge::start(EdgeConfig::new(routes)).await
}

async fn seats(edge: &Edge, id: i64) -> (i64, Option<String>) {
    let response = get(edge.addr(), &format!("/api/events/{id}")).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let seats = response.json()["seats_available"].as_i64().unwrap();
    (seats, response.header("age").map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_read_is_served_from_memory_until_its_ttl() {
    let database = TestDatabase::create().await;
    let edge = cached_edge(&database, "1s").await;
    let (before, age) = seats(&edge, 1).await;
    assert_eq!(age.as_deref(), Some("0"));

    sqlx::query("UPDATE events SET seats_available = seats_available - 1 WHERE id = 1")
        .execute(database.pool())
        .await
        .unwrap();
    let (cached, _) = seats(&edge, 1).await;
    assert_eq!(cached, before, "the cached answer is served within the ttl");

    // Other parameters are other entries.
    let (other, _) = seats(&edge, 2).await;
    assert_ne!(other, before);

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (now, _) = seats(&edge, 1).await;
        if now == before - 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the entry never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_not_cached_and_lookups_are_counted() {
    let database = TestDatabase::create().await;
    let edge = cached_edge(&database, "30s").await;
    assert_eq!(get(edge.addr(), "/api/events/999").await.status, 404);
    sqlx::query(
        "INSERT INTO events (id, name, seats_total, seats_available) VALUES (999, 'late', 5, 5)",
    )
    .execute(database.pool())
    .await
    .unwrap();
    assert_eq!(get(edge.addr(), "/api/events/999").await.status, 200);
    assert_eq!(get(edge.addr(), "/api/events/999").await.status, 200);

    let metrics = get(edge.admin_addr(), "/metrics").await.text();
    let count = |result: &str| {
        let series =
            format!(r#"switchyard_cache_lookups_total{{result="{result}",route="events.show"}} "#);
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&series))
            .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
            .to_owned()
    };
    assert_eq!(count("miss"), "2");
    assert_eq!(count("hit"), "1");
}
