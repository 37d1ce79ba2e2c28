//! A whole worker process: connect, register, run the processors and the background
//! loops, and on shutdown finish or give back every job in hand.
//!
//! States: starting (connect to Redis, register, give back dead workers' jobs) →
//! running (N processors, the heartbeat, the maintenance loop) → draining (no new
//! fetches; jobs in flight get up to the shutdown timeout) → released (unfinished jobs
//! back in the queue, heartbeat gone) → done. Only start-up can fail: once running,
//! store trouble is logged and retried, never fatal.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::error::WorkerError;
use super::keys::{self, Identity};
use super::perform::JobRules;
use super::processor::{self, Context};
use super::settings::WorkerSettings;
use super::{liveness, now_ms, poller};

/// Longest a single statement may run; the shared database must not be held by a
/// stuck booking.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Whether this session may write what a booking writes.
const CAN_WRITE: &str = "SELECT current_setting('transaction_read_only') = 'off' \
     AND has_table_privilege('bookings', 'INSERT, UPDATE') \
     AND has_table_privilege('events', 'UPDATE')";

/// Longest a command on the shared Redis connection may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs a worker until `shutdown` completes, then drains and releases it.
pub async fn run(
    settings: WorkerSettings,
    shutdown: impl Future<Output = ()>,
) -> Result<(), WorkerError> {
    settings.check()?;
    let identity = Identity::generate();
    let context = Arc::new(connect(&settings, &identity).await?);
    check_database(&context.pool, settings.connect_timeout).await?;
    let mut control = context.control.clone();
    register(&mut control, &identity, &settings).await?;

    let (stop, stopped) = watch::channel(false);
    let mut background = spawn_background(&control, &identity, &settings, &stopped);
    let mut processors = JoinSet::new();
    for _ in 0..settings.concurrency {
        processors.spawn(processor::run(context.clone(), stopped.clone()));
    }

    shutdown.await;
    log::info!(
        "worker {identity} stopping: jobs in flight have {:?} to finish",
        settings.shutdown_timeout
    );
    // Nobody listens any more only when every task has already ended.
    let _ = stop.send(true);
    let drained = drain(&mut processors, settings.shutdown_timeout).await;
    background.abort_all();
    release(&mut control, &identity, &settings.queue, drained).await;
    context.pool.close().await;
    Ok(())
}

/// Announces the worker (a first heartbeat: Redis must answer) and gives back the
/// jobs of workers that died while none was running.
async fn register(
    control: &mut ConnectionManager,
    identity: &Identity,
    settings: &WorkerSettings,
) -> Result<(), WorkerError> {
    liveness::beat(control, identity, &settings.queue, settings.heartbeat_ttl)
        .await
        .map_err(WorkerError::RedisUnavailable)?;
    maintain(control, identity).await;
    log::info!(
        "worker {identity} started: queue={} job_class={} concurrency={} lifespan={:?}",
        settings.queue,
        settings.job_class,
        settings.concurrency,
        settings.lifespan
    );
    Ok(())
}

/// The heartbeat and the maintenance loop, both ending when `stopped` turns true.
fn spawn_background(
    control: &ConnectionManager,
    identity: &Identity,
    settings: &WorkerSettings,
    stopped: &watch::Receiver<bool>,
) -> JoinSet<()> {
    let mut background = JoinSet::new();
    background.spawn(heartbeat(
        control.clone(),
        identity.clone(),
        settings.queue.clone(),
        settings.heartbeat_ttl,
        stopped.clone(),
    ));
    background.spawn(maintenance(
        control.clone(),
        identity.clone(),
        settings.poll_interval,
        stopped.clone(),
    ));
    background
}

/// Opens the stores: Redis now (fail fast), PostgreSQL on first use.
async fn connect(settings: &WorkerSettings, identity: &Identity) -> Result<Context, WorkerError> {
    let client = redis::Client::open(settings.redis_url.as_str()).map_err(WorkerError::RedisUrl)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(settings.connect_timeout))
        .set_response_timeout(Some(COMMAND_TIMEOUT))
        .set_number_of_retries(1);
    let connecting = ConnectionManager::new_with_config(client.clone(), config);
    let control = tokio::time::timeout(settings.connect_timeout * 2, connecting)
        .await
        .map_err(|_| WorkerError::RedisUnavailable(timed_out(settings.connect_timeout * 2)))?
        .map_err(WorkerError::RedisUnavailable)?;

    Ok(Context {
        pool: database_pool(settings)?,
        control,
        client,
        connect_timeout: settings.connect_timeout,
        rules: JobRules {
            class: settings.job_class.clone(),
            default_lifespan_ms: settings.lifespan_ms(),
        },
        queue_key: keys::queue(&settings.queue),
        in_progress_key: identity.in_progress_key(),
    })
}

/// A pool of at most one connection per processor, opened lazily: a database that is
/// down fails jobs into `retry`, it does not stop the worker.
fn database_pool(settings: &WorkerSettings) -> Result<PgPool, WorkerError> {
    let options = PgConnectOptions::from_str(&settings.database_url)
        .map_err(WorkerError::DatabaseUrl)?
        .application_name("switchyard worker")
        .options([
            (
                "statement_timeout",
                STATEMENT_TIMEOUT.as_millis().to_string(),
            ),
            // `now()` lands in `timestamp` columns as UTC, as Rails writes them.
            ("timezone", "UTC".to_owned()),
        ]);
    let size = u32::try_from(settings.concurrency).unwrap_or(u32::MAX);
    Ok(PgPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(settings.connect_timeout)
        .connect_lazy_with(options))
}

/// Refuses a role that can connect but not write. A database that cannot be reached
/// is no reason to stop: jobs wait in `retry` until it is back.
async fn check_database(pool: &PgPool, connect_timeout: Duration) -> Result<(), WorkerError> {
    let writable = sqlx::query_scalar::<_, bool>(CAN_WRITE).fetch_one(pool);
    match tokio::time::timeout(connect_timeout * 2, writable).await {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err(WorkerError::ReadOnlyDatabase),
        Ok(Err(error)) => {
            log::warn!("cannot check the database role at start-up: {error}");
            Ok(())
        }
        Err(_) => {
            log::warn!("cannot check the database role at start-up: no answer in time");
            Ok(())
        }
    }
}

/// A Redis error for a connection that did not open within `after`.
fn timed_out(after: Duration) -> redis::RedisError {
    let detail = format!("no connection within {after:?}");
    redis::RedisError::from((redis::ErrorKind::Io, "timed out", detail))
}

/// Refreshes the heartbeat three times per TTL, so one late beat is no death.
async fn heartbeat(
    mut control: ConnectionManager,
    identity: Identity,
    queue: String,
    ttl: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let every = ttl / 3;
    // A change (or a vanished sender) means shutdown: no beat may follow the release.
    while tokio::time::timeout(every, stopped.changed())
        .await
        .is_err()
    {
        if let Err(error) = liveness::beat(&mut control, &identity, &queue, ttl).await {
            log::warn!("worker {identity}: heartbeat failed: {error}");
        }
    }
}

/// Every `interval` (jittered, so workers started together spread out): gives back
/// dead workers' jobs and moves due retries.
async fn maintenance(
    mut control: ConnectionManager,
    identity: Identity,
    interval: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let pause = interval.mul_f64(rand::random_range(0.5..1.5));
        if tokio::time::timeout(pause, stopped.changed()).await.is_ok() {
            break;
        }
        maintain(&mut control, &identity).await;
    }
}

/// One round of upkeep; failures are logged and left to the next round.
async fn maintain(control: &mut ConnectionManager, identity: &Identity) {
    if let Err(error) = liveness::reap_dead(control, identity).await {
        log::warn!("worker {identity}: cannot look for dead workers: {error}");
    }
    match poller::move_due(control, now_ms()).await {
        Ok(0) => {}
        Ok(moved) => log::info!("worker {identity}: {moved} due retries went back to their queues"),
        Err(error) => log::warn!("worker {identity}: cannot move due retries: {error}"),
    }
}

/// Waits for the processors to finish their jobs; past `timeout`, stops them where
/// they are. True when every one finished on its own.
async fn drain(processors: &mut JoinSet<()>, timeout: Duration) -> bool {
    let all_done = async { while processors.join_next().await.is_some() {} };
    if tokio::time::timeout(timeout, all_done).await.is_ok() {
        return true;
    }
    log::warn!(
        "{} jobs did not finish in {timeout:?}; they go back to the queue",
        processors.len()
    );
    processors.abort_all();
    while processors.join_next().await.is_some() {}
    false
}

/// Gives back every job still in progress and stops the heartbeat.
async fn release(control: &mut ConnectionManager, identity: &Identity, queue: &str, drained: bool) {
    match liveness::release(control, identity, queue, drained).await {
        Ok(count) => log::info!(
            "worker {identity} stopped: {count} unfinished jobs went back to {}",
            keys::queue(queue)
        ),
        Err(error) => log::error!(
            "worker {identity} stopped without giving back its jobs ({error}); \
             the next worker to start gives them back"
        ),
    }
}
