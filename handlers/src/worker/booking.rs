//! The booking transaction: one PostgreSQL transaction per job records the booking in
//! `bookings` and, unless the job expired, takes its seats from `events`.
//!
//! The row is claimed first: inserted as `pending`, keyed by the booking id the edge
//! chose. A second delivery of the same job (a redelivery after a crash, a duplicate
//! push) finds the row, waits for the first transaction if it is still open, and reports
//! the recorded outcome instead of taking seats again; this is checked before expiry, so
//! a late redelivery cannot turn a confirmed booking into an expired one. A row still
//! `pending` can only have been left by another writer, and is processed now. Seats are
//! taken with a conditional decrement: bookings racing for one event queue on its row
//! lock and each re-checks what is left, so an event is never oversold.

use chrono::{DateTime, NaiveDateTime};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::outcome::{Outcome, Status, SOLD_OUT, UNKNOWN_EVENT};

const CLAIM: &str = "INSERT INTO bookings \
     (id, event_id, user_ref, quantity, status, jid, enqueued_at) \
     VALUES ($1, $2, $3, $4, 'pending', $5, $6) ON CONFLICT (id) DO NOTHING";

const PREVIOUS: &str = "SELECT status, reason, processed_at FROM bookings WHERE id = $1 FOR UPDATE";

const TAKE_SEATS: &str = "UPDATE events \
     SET seats_available = seats_available - $2, updated_at = now() \
     WHERE id = $1 AND seats_available >= $2";

const EVENT_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM events WHERE id = $1)";

const FINISH: &str = "UPDATE bookings \
     SET status = $2, reason = $3, jid = $4, processed_at = $5, updated_at = now() \
     WHERE id = $1";

/// A valid booking, as its row holds it.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: Uuid,
    pub event_id: i64,
    pub user_ref: String,
    pub quantity: i32,
    pub jid: String,
    pub enqueued_at_ms: i64,
}

/// What the transaction is to do once it holds the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Take the seats, or reject the booking.
    TakeSeats,
    /// Record it as expired; no seats.
    Expire,
}

/// What the database holds for the booking once the transaction is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub outcome: Outcome,
    /// When the booking was first processed, in epoch milliseconds.
    pub processed_at_ms: i64,
    /// False when an earlier delivery had already recorded it.
    pub first_delivery: bool,
}

/// Runs the booking transaction for `row` at `now_ms`.
pub async fn run(pool: &PgPool, row: &Row, plan: Plan, now_ms: i64) -> sqlx::Result<Recorded> {
    let mut transaction = pool.begin().await?;
    if let Some(previous) = claim(&mut transaction, row, now_ms).await? {
        transaction.commit().await?;
        return Ok(previous);
    }

    let outcome = match plan {
        Plan::Expire => Outcome::expired(),
        Plan::TakeSeats => take_seats(&mut transaction, row.event_id, row.quantity).await?,
    };
    finish(&mut transaction, row, &outcome, now_ms).await?;
    transaction.commit().await?;
    Ok(Recorded {
        outcome,
        processed_at_ms: now_ms,
        first_delivery: true,
    })
}

/// Inserts the row as `pending`; `None` when this delivery holds it now, the recorded
/// outcome when an earlier one finished it.
async fn claim(
    connection: &mut PgConnection,
    row: &Row,
    now_ms: i64,
) -> sqlx::Result<Option<Recorded>> {
    let inserted = sqlx::query(CLAIM)
        .bind(row.id)
        .bind(row.event_id)
        .bind(&row.user_ref)
        .bind(row.quantity)
        .bind(&row.jid)
        .bind(utc(row.enqueued_at_ms))
        .execute(&mut *connection)
        .await?;
    if inserted.rows_affected() == 1 {
        return Ok(None);
    }

    let (status, reason, processed_at): (String, Option<String>, Option<NaiveDateTime>) =
        sqlx::query_as(PREVIOUS)
            .bind(row.id)
            .fetch_one(connection)
            .await?;
    let status = Status::parse(&status).filter(|s| *s != Status::Pending);
    Ok(status.map(|status| Recorded {
        outcome: Outcome {
            status,
            reason: reason.unwrap_or_default(),
        },
        processed_at_ms: processed_at.map_or(now_ms, |at| at.and_utc().timestamp_millis()),
        first_delivery: false,
    }))
}

/// Takes the seats, or says why not.
async fn take_seats(
    connection: &mut PgConnection,
    event_id: i64,
    quantity: i32,
) -> sqlx::Result<Outcome> {
    let taken = sqlx::query(TAKE_SEATS)
        .bind(event_id)
        .bind(quantity)
        .execute(&mut *connection)
        .await?;
    if taken.rows_affected() == 1 {
        return Ok(Outcome::confirmed());
    }
    let exists: bool = sqlx::query_scalar(EVENT_EXISTS)
        .bind(event_id)
        .fetch_one(connection)
        .await?;
    Ok(Outcome::rejected(if exists {
        SOLD_OUT
    } else {
        UNKNOWN_EVENT
    }))
}

async fn finish(
    connection: &mut PgConnection,
    row: &Row,
    outcome: &Outcome,
    now_ms: i64,
) -> sqlx::Result<()> {
    // `reason` is NULL in the table when there is none.
    let reason = Some(outcome.reason.as_str()).filter(|r| !r.is_empty());
    sqlx::query(FINISH)
        .bind(row.id)
        .bind(outcome.status.as_str())
        .bind(reason)
        .bind(&row.jid)
        .bind(utc(now_ms))
        .execute(connection)
        .await?;
    Ok(())
}

/// Epoch milliseconds as the table's `timestamp` (UTC, as Rails stores it).
fn utc(epoch_ms: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp_millis(epoch_ms).map(|at| at.naive_utc())
}
