//! Putting a booking job on the Sidekiq queue together with its `pending` status
//! record, in one atomic step.
//!
//! One Lua script does both, so no client can ever poll a booking whose job is not
//! queued, nor can a job exist without its record. The commands are exactly what a
//! Sidekiq client sends: `SADD queues <name>` and `LPUSH queue:<name> <payload>`.

use once_cell::sync::Lazy;
use redis::aio::ConnectionManager;
use redis::Script;

use super::job::Booking;
use super::record::{self, RECORD_TTL_SECONDS};
use crate::HandlerError;

static ENQUEUE: Lazy<Script> = Lazy::new(|| {
    Script::new(
        r"
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[3], 'status', 'pending', 'reason', '',
  'event_id', ARGV[3], 'quantity', ARGV[4], 'user_ref', ARGV[5], 'jid', ARGV[6])
redis.call('EXPIRE', KEYS[3], ARGV[7])
return 1
",
    )
});

/// Enqueues `payload` on `queue` and writes the `pending` record for `booking`.
pub async fn enqueue(
    connection: &mut ConnectionManager,
    queue: &str,
    payload: &str,
    booking: &Booking,
    jid: &str,
) -> Result<(), HandlerError> {
    let _: i64 = ENQUEUE
        .key("queues")
        .key(format!("queue:{queue}"))
        .key(record::key(&booking.id))
        .arg(queue)
        .arg(payload)
        .arg(booking.event_id)
        .arg(booking.quantity)
        .arg(&booking.user_ref)
        .arg(jid)
        .arg(RECORD_TTL_SECONDS)
        .invoke_async(connection)
        .await?;
    Ok(())
}
