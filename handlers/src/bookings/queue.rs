//! Putting a booking job on the Sidekiq queue, with its `pending` status record, in one
//! atomic step that also decides admission and idempotency.
//!
//! One Lua script does everything, so no client can ever poll a booking whose job is
//! not queued, no job exists without its record, two requests with one idempotency key
//! can never both enqueue, and the admission check sees the queue exactly as the push
//! leaves it. The queue commands are exactly what a Sidekiq client sends:
//! `SADD queues <name>` and `LPUSH queue:<name> <payload>`.

use std::time::Duration;

use once_cell::sync::Lazy;
use redis::aio::ConnectionManager;
use redis::Script;

use super::job::Booking;
use super::record::{self, RECORD_TTL_SECONDS};
use crate::HandlerError;

// Returns {outcome, detail}: queued | replay (detail: the earlier booking id) |
// conflict | full (detail: queue length) | late (detail: age of the oldest job, ms).
//
// Queue latency is measured as Sidekiq measures it: the age of the job at the end
// workers pop from, by its `enqueued_at` (integer milliseconds from Sidekiq 8, float
// seconds before).
static ENQUEUE: Lazy<Script> = Lazy::new(|| {
    Script::new(
        r"
local fingerprint = ARGV[9]
if fingerprint ~= '' then
  local held = redis.call('GET', KEYS[4])
  if held then
    local sep = string.find(held, '|', 1, true)
    if string.sub(held, sep + 1) == fingerprint then
      return {'replay', string.sub(held, 1, sep - 1)}
    end
    return {'conflict', ''}
  end
end

local depth = redis.call('LLEN', KEYS[2])
local max_depth = tonumber(ARGV[11])
if max_depth > 0 and depth >= max_depth then
  return {'full', tostring(depth)}
end
local max_latency = tonumber(ARGV[12])
if max_latency > 0 and depth > 0 then
  local ok, oldest = pcall(cjson.decode, redis.call('LINDEX', KEYS[2], -1))
  local at = nil
  if ok and type(oldest) == 'table' then at = tonumber(oldest['enqueued_at']) end
  if at then
    local at_ms = at
    if math.floor(at) ~= at or at < 100000000000 then at_ms = at * 1000 end
    local latency = tonumber(ARGV[13]) - at_ms
    if latency > max_latency then
      return {'late', tostring(math.floor(latency))}
    end
  end
end

redis.call('SADD', KEYS[1], ARGV[1])
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[3], 'status', 'pending', 'reason', '',
  'event_id', ARGV[3], 'quantity', ARGV[4], 'user_ref', ARGV[5], 'jid', ARGV[6])
redis.call('EXPIRE', KEYS[3], ARGV[7])
if fingerprint ~= '' then
  redis.call('SET', KEYS[4], ARGV[8] .. '|' .. fingerprint, 'EX', ARGV[10])
end
return {'queued', ARGV[8]}
",
    )
});

/// Limits on how much a queue may hold before bookings are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Admission {
    /// Most jobs waiting; `None` for no limit.
    pub max_depth: Option<u64>,
    /// Oldest a waiting job may be; `None` for no limit.
    pub max_latency: Option<Duration>,
}

/// A client's idempotency key and what it asked for under it.
pub struct Idempotency<'a> {
    /// The Redis key holding `<booking id>|<fingerprint>`.
    pub key: String,
    /// The validated request, canonically encoded: a repeat must match it exactly.
    pub fingerprint: &'a str,
    pub ttl: Duration,
}

/// What became of an enqueue attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// The job is queued.
    Queued,
    /// The same request came before under this key: its booking id.
    Replay(String),
    /// The key was used before for a different request.
    Conflict,
    /// The queue holds `depth` jobs, at its limit.
    Full { depth: u64 },
    /// The oldest waiting job is `latency` old, over the limit.
    Late { latency: Duration },
}

/// One enqueue request: the job and everything the script decides on.
pub struct Enqueue<'a> {
    pub queue: &'a str,
    pub payload: &'a str,
    pub booking: &'a Booking,
    pub jid: &'a str,
    pub admission: Admission,
    pub idempotency: Option<Idempotency<'a>>,
    pub now_ms: i64,
}

/// Runs the script for `request`.
pub async fn enqueue(
    connection: &mut ConnectionManager,
    request: &Enqueue<'_>,
) -> Result<Enqueued, HandlerError> {
    let (idempotency_key, fingerprint, idempotency_ttl) = match &request.idempotency {
        Some(i) => (i.key.clone(), i.fingerprint, i.ttl.as_secs().max(1)),
        None => (format!("{}:no-idempotency-key", request.queue), "", 1),
    };
    let admission = request.admission;
    let (outcome, detail): (String, String) = ENQUEUE
        .key("queues")
        .key(format!("queue:{}", request.queue))
        .key(record::key(&request.booking.id))
        .key(idempotency_key)
        .arg(request.queue)
        .arg(request.payload)
        .arg(request.booking.event_id)
        .arg(request.booking.quantity)
        .arg(&request.booking.user_ref)
        .arg(request.jid)
        .arg(RECORD_TTL_SECONDS)
        .arg(request.booking.id.hyphenated().to_string())
        .arg(fingerprint)
        .arg(idempotency_ttl)
        .arg(admission.max_depth.unwrap_or(0))
        .arg(admission.max_latency.map_or(0, |d| d.as_millis() as u64))
        .arg(request.now_ms)
        .invoke_async(connection)
        .await?;
    decode(&outcome, detail)
}

/// How many jobs wait in `queue`, and how long the oldest has waited (as Sidekiq
/// measures queue latency), given the time `now_ms`.
pub async fn stats(
    connection: &mut ConnectionManager,
    queue: &str,
    now_ms: i64,
) -> Result<(u64, Duration), HandlerError> {
    let key = format!("queue:{queue}");
    let (depth, oldest): (u64, Option<String>) = redis::pipe()
        .llen(&key)
        .lindex(&key, -1)
        .query_async(connection)
        .await?;
    let latency = oldest
        .and_then(|job| enqueued_at_ms(&job))
        .map_or(Duration::ZERO, |at| {
            Duration::from_millis((now_ms - at).max(0) as u64)
        });
    Ok((depth, latency))
}

/// A job's top-level `enqueued_at` in milliseconds, whichever unit it was written in.
fn enqueued_at_ms(job: &str) -> Option<i64> {
    let value: serde_json::Value = serde_json::from_str(job).ok()?;
    match &value["enqueued_at"] {
        serde_json::Value::Number(n) if n.is_f64() => n.as_f64().map(|s| (s * 1000.0) as i64),
        serde_json::Value::Number(n) => {
            n.as_i64()
                .map(|v| if v < 100_000_000_000 { v * 1000 } else { v })
        }
        _ => None,
    }
}

fn decode(outcome: &str, detail: String) -> Result<Enqueued, HandlerError> {
    let number = |text: &str| text.parse::<u64>().unwrap_or_default();
    match outcome {
        "queued" => Ok(Enqueued::Queued),
        "replay" => Ok(Enqueued::Replay(detail)),
        "conflict" => Ok(Enqueued::Conflict),
        "full" => Ok(Enqueued::Full {
            depth: number(&detail),
        }),
        "late" => Ok(Enqueued::Late {
            latency: Duration::from_millis(number(&detail)),
        }),
        other => Err(HandlerError::Internal(format!(
            "enqueue script answered {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enqueued_at_is_read_in_either_unit() {
        assert_eq!(
            enqueued_at_ms(r#"{"enqueued_at": 1764864000.5}"#),
            Some(1_764_864_000_500)
        );
        assert_eq!(
            enqueued_at_ms(r#"{"enqueued_at": 1764864000500}"#),
            Some(1_764_864_000_500)
        );
        assert_eq!(
            enqueued_at_ms(r#"{"enqueued_at": 1764864000}"#),
            Some(1_764_864_000_000)
        );
        assert_eq!(enqueued_at_ms(r#"{"class": "X"}"#), None);
        assert_eq!(enqueued_at_ms("not json"), None);
    }

    #[test]
    fn script_answers_decode() {
        assert_eq!(decode("queued", "x".into()).unwrap(), Enqueued::Queued);
        assert_eq!(
            decode("replay", "id-1".into()).unwrap(),
            Enqueued::Replay("id-1".into())
        );
        assert_eq!(
            decode("conflict", String::new()).unwrap(),
            Enqueued::Conflict
        );
        assert_eq!(
            decode("full", "10".into()).unwrap(),
            Enqueued::Full { depth: 10 }
        );
        assert_eq!(
            decode("late", "1500".into()).unwrap(),
            Enqueued::Late {
                latency: Duration::from_millis(1500)
            }
        );
        assert!(decode("what", String::new()).is_err());
    }
}
