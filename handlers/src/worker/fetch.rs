//! Fetching with reliability: a job moves from `queue:<queue>` to this worker's
//! in-progress list in one atomic `BLMOVE`, and leaves that list only once its outcome
//! is written (see [`super::processor`]). Between the two, a crash leaves it where
//! [`super::liveness`] finds it.
//!
//! One case waits longer: when a connection breaks while its `BLMOVE` is in flight, the
//! move may still have happened without the answer arriving. That job stays in this
//! worker's in-progress list, untouched, until the worker stops (which gives it back)
//! or dies (which lets another give it back).

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisResult};

/// How long one `BLMOVE` waits for a job. Short, so a fetcher notices shutdown soon;
/// a fetch is never abandoned half-way, since a job it moved must be seen.
pub const BLOCK: Duration = Duration::from_secs(1);

/// Extra wait beyond [`BLOCK`] for the answer, before the connection counts as broken.
const ANSWER_MARGIN: Duration = Duration::from_secs(3);

/// One processor's fetching connection.
///
/// Each fetcher has a Redis connection to itself: a blocked `BLMOVE` holds its
/// connection, and on a shared one it would hold up every other command.
pub struct Fetcher {
    connection: MultiplexedConnection,
    queue_key: String,
    in_progress_key: String,
}

impl Fetcher {
    /// Opens a dedicated connection, waiting at most `connect_timeout`.
    pub async fn connect(
        client: &Client,
        connect_timeout: Duration,
        queue_key: String,
        in_progress_key: String,
    ) -> RedisResult<Fetcher> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(connect_timeout))
            .set_response_timeout(Some(BLOCK + ANSWER_MARGIN));
        let connection = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        Ok(Fetcher {
            connection,
            queue_key,
            in_progress_key,
        })
    }

    /// The next job, or `None` when none arrived within [`BLOCK`].
    pub async fn next(&mut self) -> RedisResult<Option<String>> {
        redis::cmd("BLMOVE")
            .arg(&self.queue_key)
            .arg(&self.in_progress_key)
            .arg("RIGHT")
            .arg("LEFT")
            .arg(BLOCK.as_secs_f64())
            .query_async(&mut self.connection)
            .await
    }
}
