//! Running `BookingJob`: from a fetched job to the outcome to tell the client.
//!
//! The order is the contract's, and the reference Ruby job's: a job without a usable
//! booking id has nobody to tell and is only logged; arguments that break a rule
//! reject the booking (`invalid_args:<field>`) without a row or seats; otherwise one
//! transaction ([`super::booking`]) records the booking and, unless it is past its
//! lifespan, takes its seats.

use serde_json::Value;
use sqlx::PgPool;

use super::args::{self, echo, BookingArgs, InvalidArgument};
use super::booking::{self, Plan, Row};
use super::error::JobFailure;
use super::job::Job;
use super::outcome::{is_expired, Outcome};
use super::record::StatusUpdate;

/// What this worker runs, and how long a job stays worth running.
#[derive(Debug, Clone)]
pub struct JobRules {
    /// The job class this worker runs (`BookingJob`).
    pub class: String,
    /// Lifespan of a job without `lifespan_ms`, in milliseconds.
    pub default_lifespan_ms: i64,
}

/// How a job ended, when nothing failed.
#[derive(Debug, Clone)]
pub enum Performed {
    /// An outcome for the client.
    Told {
        update: StatusUpdate,
        delivery: Delivery,
    },
    /// No booking id to key a status record by: nobody can be told.
    Nameless(InvalidArgument),
}

/// Which delivery of a job this was, as far as the `bookings` table knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// This delivery recorded the booking.
    First,
    /// An earlier delivery had recorded it; its outcome is told again.
    Repeat,
    /// Rejected for its arguments: nothing is recorded in the table.
    Unrecorded,
}

impl Delivery {
    /// The log's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::First => "first",
            Self::Repeat => "repeat",
            Self::Unrecorded => "none",
        }
    }
}

/// The status record for a job whose retries are spent: `rejected`,
/// `processing_failed`. Without it the client would poll `pending` for a day; the
/// job itself stays in `dead`, where an operator can still retry it.
pub fn given_up(job: &Job, now_ms: i64) -> Option<StatusUpdate> {
    let booking_id = args::booking_id(job.args())?;
    let raw_arg = |index: usize| echo(job.args().and_then(|args| args.get(index)));
    Some(StatusUpdate {
        booking_id: booking_id.text,
        outcome: Outcome::rejected("processing_failed"),
        event_id: raw_arg(1),
        quantity: raw_arg(3),
        user_ref: raw_arg(2),
        jid: job.jid().to_owned(),
        processed_at_ms: now_ms,
    })
}

/// Runs `job` at `now_ms`.
pub async fn perform(
    pool: &PgPool,
    job: &Job,
    rules: &JobRules,
    now_ms: i64,
) -> Result<Performed, JobFailure> {
    let class = job.class().unwrap_or("");
    if class != rules.class {
        return Err(JobFailure::UnknownClass(class.to_owned()));
    }
    let Some(booking_id) = args::booking_id(job.args()) else {
        let invalid = args::validate(job.args()).err();
        return Ok(Performed::Nameless(invalid.unwrap_or(InvalidArgument {
            field: "booking_id",
        })));
    };

    let (outcome, processed_at_ms, delivery) = match args::validate(job.args()) {
        Err(invalid) => {
            let rejected = Outcome::rejected(invalid.to_string());
            (rejected, now_ms, Delivery::Unrecorded)
        }
        Ok(valid) => record(pool, job, &valid, rules, now_ms).await?,
    };
    let raw_arg = |index: usize| echo(job.args().and_then(|args| args.get(index)));
    let update = StatusUpdate {
        booking_id: booking_id.text,
        outcome,
        event_id: raw_arg(1),
        quantity: raw_arg(3),
        user_ref: raw_arg(2),
        jid: job.jid().to_owned(),
        processed_at_ms,
    };
    Ok(Performed::Told { update, delivery })
}

/// Runs the booking transaction for a job with valid arguments.
async fn record(
    pool: &PgPool,
    job: &Job,
    valid: &BookingArgs,
    rules: &JobRules,
    now_ms: i64,
) -> Result<(Outcome, i64, Delivery), JobFailure> {
    let plan = plan(valid, job.lifespan_ms(rules.default_lifespan_ms), now_ms);
    let recorded = booking::run(pool, &row(valid, job.jid()), plan, now_ms).await?;
    let delivery = if recorded.first_delivery {
        Delivery::First
    } else {
        Delivery::Repeat
    };
    Ok((recorded.outcome, recorded.processed_at_ms, delivery))
}

/// Expire or take seats: decided when the job is picked up, not after it waited on
/// locks.
pub fn plan(args: &BookingArgs, lifespan_ms: i64, now_ms: i64) -> Plan {
    if is_expired(now_ms, args.enqueued_at_ms, lifespan_ms) {
        Plan::Expire
    } else {
        Plan::TakeSeats
    }
}

fn row(args: &BookingArgs, jid: &str) -> Row {
    Row {
        id: args.booking_id.uuid,
        event_id: args.event_id,
        user_ref: args.user_ref.clone(),
        quantity: args.quantity,
        jid: jid.to_owned(),
        enqueued_at_ms: args.enqueued_at_ms,
    }
}

/// `args[0]` as text for the log, cut short so a hostile payload cannot flood it.
pub fn booking_id_for_log(job: &Job) -> String {
    let first = job.args().and_then(|args| args.first());
    let text = match first {
        Some(Value::String(text)) => text.clone(),
        other => echo(other),
    };
    text.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW_MS: i64 = 1_764_864_000_000;
    const ID: &str = "6f1c2a9e-3b7d-4c1e-9a55-0d2f8e7b6a41";

    #[test]
    fn lifespan_decides_between_seats_and_expiry() {
        let cases = [
            (NOW_MS - 1_000, 120_000, Plan::TakeSeats),
            (NOW_MS - 120_000, 120_000, Plan::TakeSeats),
            (NOW_MS - 120_001, 120_000, Plan::Expire),
            (NOW_MS - 600_000, 900_000, Plan::TakeSeats),
            (NOW_MS + 5_000, 1, Plan::TakeSeats),
        ];
        for (enqueued_at_ms, lifespan_ms, expected) in cases {
            let args = json!([ID, 3, "u", 2, enqueued_at_ms]);
            let valid = args::validate(args.as_array().map(Vec::as_slice)).unwrap();
            assert_eq!(
                plan(&valid, lifespan_ms, NOW_MS),
                expected,
                "{enqueued_at_ms} {lifespan_ms}"
            );
        }
    }

    #[test]
    fn log_ids_are_cut_short() {
        let long = "x".repeat(500);
        let job = Job::parse(json!({"args": [long]}).to_string()).unwrap();
        assert_eq!(booking_id_for_log(&job).len(), 64);
        let job = Job::parse(json!({"args": [12]}).to_string()).unwrap();
        assert_eq!(booking_id_for_log(&job), "12");
    }
}
