//! One processor: fetch a job, run it, settle it, log it, and again until told to stop.
//!
//! Settling writes the job's fate and acknowledges it (removes it from the in-progress
//! list) in one `MULTI`: the status record and update for an outcome, `retry` or `dead`
//! for a failure, `switchyard:unreadable` for a payload that is not JSON. Until that
//! `MULTI` runs, the job stays in progress, so a crash never loses it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use redis::{Client, Pipeline, RedisResult};
use sqlx::PgPool;
use tokio::sync::watch;

use super::args::InvalidArgument;
use super::error::JobFailure;
use super::fetch::Fetcher;
use super::job::{Job, Unreadable};
use super::perform::{booking_id_for_log, perform, Delivery, JobRules, Performed};
use super::record::StatusUpdate;
use super::retry::{self, Disposition, Failed};
use super::{keys, now_ms};

/// Longest a job's transaction may take before it counts as failed.
const JOB_TIMEOUT: Duration = Duration::from_secs(30);
/// Failed attempts at settling a job before a warning is logged, and the first pause.
const SETTLE_ATTEMPTS: u32 = 5;
const SETTLE_PAUSE: Duration = Duration::from_millis(200);
/// Longest pause between two attempts to report a job's outcome.
const SETTLE_PAUSE_MAX: Duration = Duration::from_secs(2);
/// Pauses between failed fetches, doubling up to the longest.
const FETCH_PAUSE: Duration = Duration::from_millis(100);
const FETCH_PAUSE_MAX: Duration = Duration::from_secs(5);

/// What every processor of one worker shares.
pub struct Context {
    pub pool: PgPool,
    /// Shared, self-reconnecting connection for everything but fetching.
    pub control: ConnectionManager,
    /// Opens each processor's dedicated fetching connection, within `connect_timeout`.
    pub client: Client,
    pub connect_timeout: Duration,
    pub rules: JobRules,
    /// `queue:<queue>`, fetched from.
    pub queue_key: String,
    /// This worker's in-progress list, fetched into and acknowledged from.
    pub in_progress_key: String,
}

/// Runs jobs one after another until `stop` turns true; a job in hand is finished
/// first.
pub async fn run(context: Arc<Context>, mut stop: watch::Receiver<bool>) {
    let mut fetcher: Option<Fetcher> = None;
    let mut pause = FETCH_PAUSE;
    while !*stop.borrow() {
        match fetch(&context, &mut fetcher).await {
            Ok(Some(raw)) => {
                handle(&context, raw).await;
                pause = FETCH_PAUSE;
            }
            Ok(None) => pause = FETCH_PAUSE,
            Err(error) => {
                log::warn!(
                    "cannot fetch from {}, again in {pause:?}: {error}",
                    context.queue_key
                );
                fetcher = None;
                // Either the pause ends or shutdown starts; both lead back to the check.
                let _ = tokio::time::timeout(pause, stop.changed()).await;
                pause = (pause * 2).min(FETCH_PAUSE_MAX);
            }
        }
    }
}

/// The next job, connecting the fetcher first when it has none.
async fn fetch(context: &Context, fetcher: &mut Option<Fetcher>) -> RedisResult<Option<String>> {
    let mut connected = match fetcher.take() {
        Some(connected) => connected,
        None => {
            let queue = context.queue_key.clone();
            let in_progress = context.in_progress_key.clone();
            Fetcher::connect(&context.client, context.connect_timeout, queue, in_progress).await?
        }
    };
    let fetched = connected.next().await?;
    *fetcher = Some(connected);
    Ok(fetched)
}

/// Runs, settles and logs one job.
async fn handle(context: &Context, raw: String) {
    let started = Instant::now();
    let job = match Job::parse(raw) {
        Ok(job) => job,
        Err(Unreadable(raw)) => return park_unreadable(context, raw, started).await,
    };

    let now = now_ms();
    let performed = tokio::time::timeout(
        JOB_TIMEOUT,
        perform(&context.pool, &job, &context.rules, now),
    )
    .await
    .unwrap_or(Err(JobFailure::TimedOut(JOB_TIMEOUT)));
    match performed {
        Ok(Performed::Told { update, delivery }) => {
            tell(context, &job, &update, delivery, started).await
        }
        Ok(Performed::Nameless(invalid)) => drop_nameless(context, &job, invalid, started).await,
        Err(failure) => fail(context, &job, &failure, started).await,
    }
}

/// Writes the outcome and acknowledges the job.
async fn tell(
    context: &Context,
    job: &Job,
    update: &StatusUpdate,
    delivery: Delivery,
    started: Instant,
) {
    let mut pipe = redis::pipe();
    pipe.atomic();
    update.add_to(&mut pipe);
    let settled = settle(context, pipe, &job.raw).await;

    let fields = format!(
        "jid={} booking_id={} status={} reason={} delivery={} duration_ms={}",
        job.jid(),
        update.booking_id,
        update.outcome.status,
        update.outcome.reason,
        delivery.as_str(),
        started.elapsed().as_millis(),
    );
    match settled {
        Ok(()) => log::info!(target: "switchyard::job", "{fields}"),
        Err(error) => log_unsettled(&fields, &error),
    }
}

/// Acknowledges a job with no booking id: no client can ask about it, so, as the
/// reference Ruby job does, it is only logged.
async fn drop_nameless(context: &Context, job: &Job, invalid: InvalidArgument, started: Instant) {
    let settled = settle(context, redis::pipe(), &job.raw).await;
    let fields = format!(
        "jid={} booking_id={:?} status=rejected reason={invalid} delivery=none duration_ms={}",
        job.jid(),
        booking_id_for_log(job),
        started.elapsed().as_millis(),
    );
    match settled {
        Ok(()) => log::warn!(target: "switchyard::job", "{fields}"),
        Err(error) => log_unsettled(&fields, &error),
    }
}

/// Files the job under `retry` or `dead` with Sidekiq's fields, and acknowledges it.
async fn fail(context: &Context, job: &Job, failure: &JobFailure, started: Instant) {
    let message = failure.to_string();
    let error = retry::Error {
        class: failure.error_class(),
        message: &message,
    };
    let now = now_ms();
    let failed = retry::record_failure(job, error, now, rand::random_range(0..10));
    let mut pipe = redis::pipe();
    pipe.atomic();
    retry::file(&mut pipe, &failed, now);
    if failed.disposition == Disposition::Dead {
        if let Some(update) = super::perform::given_up(job, now) {
            update.add_to(&mut pipe);
        }
    }
    let settled = settle(context, pipe, &job.raw).await;

    let fields = failure_fields(job, &failed, error.class, &message, started);
    match (settled, failed.disposition) {
        (Err(error), _) => log_unsettled(&fields, &error),
        (Ok(()), Disposition::Retry { .. }) => log::warn!(target: "switchyard::job", "{fields}"),
        (Ok(()), Disposition::Dead) => log::error!(target: "switchyard::job", "{fields}"),
    }
}

fn failure_fields(
    job: &Job,
    failed: &Failed,
    class: &str,
    message: &str,
    started: Instant,
) -> String {
    let status = match failed.disposition {
        Disposition::Retry { .. } => "retry",
        Disposition::Dead => "dead",
    };
    format!(
        "jid={} booking_id={} status={status} reason={class} retry_count={} duration_ms={} \
         error={message:?}",
        job.jid(),
        booking_id_for_log(job),
        failed.retry_count,
        started.elapsed().as_millis(),
    )
}

/// Keeps a payload that is not JSON where an operator can find it.
async fn park_unreadable(context: &Context, raw: String, started: Instant) {
    let mut pipe = redis::pipe();
    pipe.atomic();
    pipe.lpush(keys::UNREADABLE, &raw).ignore();
    let fields = format!(
        "jid= booking_id= status=unreadable reason=not_json list={} duration_ms={}",
        keys::UNREADABLE,
        started.elapsed().as_millis()
    );
    match settle(context, pipe, &raw).await {
        Ok(()) => log::error!(target: "switchyard::job", "{fields}"),
        Err(error) => log_unsettled(&fields, &error),
    }
}

/// Runs `pipe` with the acknowledgement of `raw` appended, retrying until Redis takes
/// it. The outcome is already committed in PostgreSQL; giving up here would leave the
/// client polling `pending` and the job stranded in the in-progress list, so a Redis
/// outage only delays the report. Shutdown still ends the wait: the runner's shutdown
/// timeout stops this processor, and the job goes back to the queue, where a rerun
/// finds the committed booking.
async fn settle(context: &Context, mut pipe: Pipeline, raw: &str) -> RedisResult<()> {
    pipe.lrem(&context.in_progress_key, 1, raw).ignore();
    let mut connection = context.control.clone();
    let mut pause = SETTLE_PAUSE;
    let mut attempt = 1;
    loop {
        match pipe.query_async::<()>(&mut connection).await {
            Ok(()) => return Ok(()),
            Err(error) => {
                if attempt == SETTLE_ATTEMPTS {
                    log::warn!(
                        "cannot report a finished job to Redis, retrying until it is back: {error}"
                    );
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(SETTLE_PAUSE_MAX);
                attempt += 1;
            }
        }
    }
}

fn log_unsettled(fields: &str, error: &redis::RedisError) {
    // The job is still in this worker's in-progress list: it goes back to the queue
    // when the worker stops or dies, and the booking transaction makes the rerun safe.
    log::error!(target: "switchyard::job", "{fields} settled=false error={:?}", error.to_string());
}
