//! `switchyard worker`: a Sidekiq-compatible consumer that runs `BookingJob` as
//! `../shared/contracts/booking-job.md` says, in place of the legacy Ruby worker or
//! beside it on the same queue.
//!
//! It owns fetching jobs without ever losing one, the booking transaction, the status
//! record and its published update, and Sidekiq's `retry` and `dead` sets for failures
//! that are not the job's fault. It leaves the payload's shape to the edge
//! ([`crate::bookings::job`]), the schema to the admin app, and Sidekiq's `schedule`
//! set (scheduled jobs) to the Ruby worker: bookings are never scheduled.
//!
//! # The life of a job
//!
//! 1. Fetch (`fetch.rs`): `BLMOVE queue:<queue> <in-progress> RIGHT LEFT`, atomically.
//! 2. Perform (`perform.rs`, `booking.rs`): validate the arguments (a broken one
//!    rejects the booking, with no row and no seats), check the lifespan, then one
//!    PostgreSQL transaction records the booking and takes the seats.
//! 3. Settle and acknowledge (`processor.rs`), in one `MULTI`: status record, `PUBLISH`
//!    and `LREM` from the in-progress list; or, when something other than the job
//!    failed, Sidekiq's retry fields and `ZADD retry` (or `dead`) and `LREM`.
//!
//! A worker killed at any step leaves the job in its in-progress list; the next worker
//! to notice the missing heartbeat (`liveness.rs`) puts it back in the queue, and the
//! transaction's insert-first rule makes the second run report the first one's outcome.
//!
//! # Redis keys
//!
//! Sidekiq's, shared with the Ruby worker and the Web UI:
//!
//! | key | type | use |
//! | --- | --- | --- |
//! | `queue:<queue>` | list | waiting jobs: the edge `LPUSH`es, workers pop from the right |
//! | `queues` | set | queue names |
//! | `retry` | sorted set | failed jobs, scored by their next attempt (epoch seconds) |
//! | `dead` | sorted set | jobs out of attempts, scored by when they died |
//! | `booking:<id>` | hash | the contract's status record, one day TTL |
//! | `bookings:updates` | channel | `{"id", "status", "reason"}` per processed job |
//!
//! This worker's own, under `switchyard:`:
//!
//! | key | type | use |
//! | --- | --- | --- |
//! | `switchyard:workers` | hash | registry: identity (`host:pid:hex`) → queue it fetches from |
//! | `switchyard:worker:<identity>:heartbeat` | string, TTL | exists while the worker lives |
//! | `switchyard:worker:<identity>:inprogress` | list | jobs fetched and not yet settled |
//! | `switchyard:unreadable` | list | payloads that are not JSON objects |
//!
//! The registry is a hash rather than a plain set so that whoever gives a dead worker's
//! jobs back knows which queue they came from.
//!
//! # Beside the reference Ruby job
//!
//! Outcomes, rows and seats match `sidekiq/booking_job.rb` for every job the edge
//! writes; the suites run both. Where the contract leaves room, this worker chooses:
//!
//! - a job without `lifespan_ms` expires after `--lifespan` (the Ruby job never
//!   expires it);
//! - a wrong number of `args` is `invalid_args:<field>` or `invalid_args:args` (Ruby
//!   raises `ArgumentError`, so Sidekiq retries it);
//! - a failed job with `"retry": false` is kept in `dead` (Sidekiq drops it);
//! - a repeated delivery reports the first delivery's `processed_at_ms` (Ruby writes
//!   the time of the repeat).

mod args;
mod booking;
mod error;
mod fetch;
mod job;
mod keys;
mod liveness;
mod outcome;
mod perform;
mod poller;
mod processor;
mod record;
mod retry;
mod runner;
mod settings;

use std::time::{SystemTime, UNIX_EPOCH};

pub use error::{JobFailure, WorkerError};
pub use runner::run;
pub use settings::{WorkerSettings, MAX_CONCURRENCY};

/// The wall clock in epoch milliseconds, as the contract's timestamps use.
fn now_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    since_epoch.as_millis().try_into().unwrap_or(i64::MAX)
}
