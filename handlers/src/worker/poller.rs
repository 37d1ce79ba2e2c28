//! The retry poller: moves jobs whose next attempt is due from `retry` back to their
//! queue, as Sidekiq's scheduler does.
//!
//! Each job moves in one script: `ZREM` first, and only the caller whose `ZREM` removed
//! it pushes it, so two pollers (ours, or ours beside Sidekiq's) never enqueue a job
//! twice. Like Sidekiq's client, the push resets `enqueued_at` to now, in the job's own
//! unit: the edge's admission check reads queue latency from it. The number is rewritten
//! in the payload's text rather than by re-encoding the JSON, because Redis's Lua
//! encoder would round the payload's other large numbers (such as `args[4]`).

use once_cell::sync::Lazy;
use redis::aio::ConnectionManager;
use redis::{RedisResult, Script};

use super::keys;

/// Most jobs one script call moves, so a long backlog never blocks Redis for long.
const BATCH: usize = 100;
/// Most script calls per poll; the rest waits for the next poll.
const MAX_BATCHES: usize = 10;

/// KEYS: retry, queues, dead. ARGV: now in epoch seconds with a fraction, now in epoch
/// milliseconds, batch size. Returns {jobs looked at, jobs moved}.
///
/// `enqueued_at` is integer milliseconds (Sidekiq 8) when it is a whole number past
/// 10^11, as the edge reads it; float seconds otherwise. A due job without a readable
/// `queue` cannot go anywhere: it goes to `dead`.
static MOVE_DUE: Lazy<Script> = Lazy::new(|| {
    Script::new(
        r#"
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, ARGV[3])
local moved = 0
for _, job in ipairs(due) do
  if redis.call('ZREM', KEYS[1], job) == 1 then
    local ok, decoded = pcall(cjson.decode, job)
    local queue = ok and type(decoded) == 'table' and decoded['queue']
    if type(queue) == 'string' and queue ~= '' then
      local at = tonumber(decoded['enqueued_at'])
      local now = ARGV[1]
      if at and math.floor(at) == at and at >= 100000000000 then now = ARGV[2] end
      local pushed = string.gsub(job, '"enqueued_at":%s*[-+%d%.eE]+', '"enqueued_at":' .. now, 1)
      redis.call('LPUSH', 'queue:' .. queue, pushed)
      redis.call('SADD', KEYS[2], queue)
    else
      redis.call('ZADD', KEYS[3], ARGV[1], job)
    end
    moved = moved + 1
  end
end
return {#due, moved}
"#,
    )
});

/// Moves the jobs due by `now_ms` (a bounded number per call); returns how many this
/// call moved.
pub async fn move_due(connection: &mut ConnectionManager, now_ms: i64) -> RedisResult<usize> {
    // Three decimals always: Sidekiq 6 and 7 need a float, never integer seconds.
    let now_seconds = format!("{}.{:03}", now_ms.div_euclid(1000), now_ms.rem_euclid(1000));
    let mut total = 0;
    for _ in 0..MAX_BATCHES {
        let (seen, moved): (usize, usize) = MOVE_DUE
            .key(keys::RETRY)
            .key(keys::QUEUES)
            .key(keys::DEAD)
            .arg(&now_seconds)
            .arg(now_ms)
            .arg(BATCH)
            .invoke_async(connection)
            .await?;
        total += moved;
        if seen < BATCH {
            break;
        }
    }
    Ok(total)
}
