//! Who is alive: the heartbeat, the worker registry, and giving a dead worker's jobs
//! back to the queue.
//!
//! A live worker keeps `switchyard:worker:<identity>:heartbeat` alive by refreshing its
//! TTL, and is listed in the `switchyard:workers` hash with the queue it fetches from.
//! A registered worker without a heartbeat has died (or stalled past the TTL): any
//! other worker, at start and then periodically, pushes its in-progress jobs back to the
//! popping end of its queue, oldest first in line, and forgets it. A job is
//! therefore never lost, at the price of running twice when a stalled worker wakes up,
//! which the booking transaction makes harmless.

use std::collections::HashMap;
use std::time::Duration;

use once_cell::sync::Lazy;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, RedisResult, Script};

use super::keys::{self, Identity};

/// KEYS: heartbeat, in-progress, queue list, registry, queues. ARGV: identity, queue
/// name, `force` (1 to release a live worker: our own shutdown).
///
/// `LMOVE ... LEFT RIGHT` takes the newest fetched job first and puts each at the
/// popping end, so the oldest ends up first in line again.
static GIVE_BACK: Lazy<Script> = Lazy::new(|| {
    Script::new(
        r"
if ARGV[3] ~= '1' and redis.call('EXISTS', KEYS[1]) == 1 then
  return -1
end
local count = redis.call('LLEN', KEYS[2])
for _ = 1, count do
  redis.call('LMOVE', KEYS[2], KEYS[3], 'LEFT', 'RIGHT')
end
if count > 0 then
  redis.call('SADD', KEYS[5], ARGV[2])
end
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return count
",
    )
});

/// Registers `identity` as fetching from `queue` and refreshes its heartbeat.
///
/// Re-registering on every beat means a worker that stalled past its TTL, and was
/// forgotten, is known again as soon as it wakes.
pub async fn beat(
    connection: &mut ConnectionManager,
    identity: &Identity,
    queue: &str,
    ttl: Duration,
) -> RedisResult<()> {
    let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    redis::pipe()
        .atomic()
        .pset_ex(identity.heartbeat_key(), 1, ttl_ms)
        .ignore()
        .hset(keys::WORKERS, identity.as_str(), queue)
        .ignore()
        .query_async(connection)
        .await
}

/// Gives back the jobs of every registered worker without a heartbeat; returns how
/// many jobs went back.
pub async fn reap_dead(connection: &mut ConnectionManager, own: &Identity) -> RedisResult<usize> {
    let registry: HashMap<String, String> = connection.hgetall(keys::WORKERS).await?;
    let mut given_back = 0;
    for (identity, queue) in registry {
        let identity = Identity::from_registry(identity);
        if identity == *own {
            continue;
        }
        let count = give_back(connection, &identity, &queue, false).await?;
        if count >= 0 {
            log::warn!("worker {identity} is gone: {count} of its jobs went back to queue:{queue}");
            given_back += usize::try_from(count).unwrap_or(0);
        }
    }
    Ok(given_back)
}

/// At our own shutdown: gives back every job still in progress and stops the heartbeat.
///
/// With `forget`, the registry entry goes too. Without it (when a fetch may still be
/// landing a job in our list) the entry stays, so the next worker to reap finds the
/// missing heartbeat and gives back whatever arrived late.
pub async fn release(
    connection: &mut ConnectionManager,
    identity: &Identity,
    queue: &str,
    forget: bool,
) -> RedisResult<usize> {
    let count = give_back(connection, identity, queue, true).await?;
    if !forget {
        let _: () = connection
            .hset(keys::WORKERS, identity.as_str(), queue)
            .await?;
    }
    Ok(usize::try_from(count).unwrap_or(0))
}

/// Runs [`GIVE_BACK`]: -1 when the worker is alive (and not forced), else the count.
async fn give_back(
    connection: &mut ConnectionManager,
    identity: &Identity,
    queue: &str,
    force: bool,
) -> RedisResult<i64> {
    GIVE_BACK
        .key(identity.heartbeat_key())
        .key(identity.in_progress_key())
        .key(keys::queue(queue))
        .key(keys::WORKERS)
        .key(keys::QUEUES)
        .arg(identity.as_str())
        .arg(queue)
        .arg(if force { "1" } else { "0" })
        .invoke_async(connection)
        .await
}
