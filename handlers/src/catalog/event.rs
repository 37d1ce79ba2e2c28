//! The event as the catalog serves it, and the queries that read it.

use chrono::NaiveDateTime;
use serde::Serialize;
use sqlx::PgPool;

/// One row of `events`, in the shape the API returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Event {
    pub id: i64,
    pub name: String,
    /// Local time as stored by the admin app (`timestamp` without zone).
    pub starts_at: Option<NaiveDateTime>,
    pub seats_total: i32,
    pub seats_available: i32,
}

// Events without a start time sort last; COALESCE keeps the keyset comparison total.
const ORDER_KEY: &str = "COALESCE(starts_at, 'infinity'::timestamp)";

/// One event by id.
pub async fn find(pool: &PgPool, id: i64) -> Result<Option<Event>, sqlx::Error> {
    sqlx::query_as::<_, Event>(
        "SELECT id, name, starts_at, seats_total, seats_available FROM events WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// A page of events in `starts_at`, `id` order, starting after the event `after`.
///
/// `Ok(None)` means there is no event `after` to continue from.
pub async fn page(
    pool: &PgPool,
    after: Option<i64>,
    limit: i64,
) -> Result<Option<Vec<Event>>, sqlx::Error> {
    let Some(after) = after else {
        let sql = format!(
            "SELECT id, name, starts_at, seats_total, seats_available FROM events \
             ORDER BY {ORDER_KEY}, id LIMIT $1"
        );
        return sqlx::query_as::<_, Event>(&sql)
            .bind(limit)
            .fetch_all(pool)
            .await
            .map(Some);
    };

    let exists: Option<(i64,)> = sqlx::query_as("SELECT id FROM events WHERE id = $1")
        .bind(after)
        .fetch_optional(pool)
        .await?;
    if exists.is_none() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT id, name, starts_at, seats_total, seats_available FROM events \
         WHERE ({ORDER_KEY}, id) > (SELECT {ORDER_KEY}, id FROM events WHERE id = $1) \
         ORDER BY {ORDER_KEY}, id LIMIT $2"
    );
    sqlx::query_as::<_, Event>(&sql)
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await
        .map(Some)
}
