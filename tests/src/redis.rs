//! Redis access for assertions, with queue names no two tests share.
//!
//! All tests use the same Redis database, so each one asks for its own queue
//! name and passes it to the edge; the keys behind those names are deleted
//! when the `TestRedis` is dropped.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{Client, FromRedisValue};

use crate::random_hex;

/// Where Redis is when the environment does not say.
const DEFAULT_URL: &str = "redis://127.0.0.1:6379/0";

/// How long the cleanup on Drop may take.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to the shared test Redis.
pub struct TestRedis {
    url: String,
    conn: MultiplexedConnection,
    queues: Mutex<Vec<String>>,
}

impl TestRedis {
    /// Connects to `REDIS_URL` (or the local default); panics with the cause on failure.
    pub async fn connect() -> TestRedis {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| DEFAULT_URL.into());
        let client =
            Client::open(url.as_str()).unwrap_or_else(|err| panic!("bad REDIS_URL {url}: {err}"));
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|err| panic!("connect to Redis at {url}: {err}"));
        TestRedis {
            url,
            conn,
            queues: Mutex::new(Vec::new()),
        }
    }

    /// The URL connected to, to hand to the edge.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A handle on the shared multiplexed connection.
    pub fn conn(&self) -> MultiplexedConnection {
        self.conn.clone()
    }

    /// A queue name of the form `bookings_t_<hex>`, cleaned up on Drop.
    pub fn unique_queue(&self) -> String {
        let name = format!("bookings_t_{}", random_hex(8));
        self.queues
            .lock()
            .expect("queue list lock")
            .push(name.clone());
        name
    }

    /// `LRANGE key 0 -1`: the whole list, head first.
    pub async fn lrange(&self, key: &str) -> Vec<String> {
        self.query(::redis::cmd("LRANGE").arg(key).arg(0).arg(-1))
            .await
    }

    /// `HGETALL key`.
    pub async fn hgetall(&self, key: &str) -> HashMap<String, String> {
        self.query(::redis::cmd("HGETALL").arg(key)).await
    }

    /// The jobs in Sidekiq's list for `queue` (`queue:<queue>`), parsed as JSON,
    /// head first: Sidekiq pushes on the left, so the newest job comes first.
    pub async fn sidekiq_jobs(&self, queue: &str) -> Vec<serde_json::Value> {
        let key = format!("queue:{queue}");
        self.lrange(&key)
            .await
            .iter()
            .map(|job| {
                serde_json::from_str(job)
                    .unwrap_or_else(|err| panic!("job in {key} is not JSON ({err}): {job}"))
            })
            .collect()
    }

    /// `DEL key`.
    pub async fn del(&self, key: &str) {
        let _: i64 = self.query(::redis::cmd("DEL").arg(key)).await;
    }

    /// Runs `cmd`, panicking with the command on failure.
    async fn query<T: FromRedisValue>(&self, cmd: &::redis::Cmd) -> T {
        let mut conn = self.conn.clone();
        cmd.query_async(&mut conn)
            .await
            .unwrap_or_else(|err| panic!("Redis command failed: {err}"))
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let queues = std::mem::take(&mut *self.queues.lock().unwrap_or_else(|e| e.into_inner()));
        if queues.is_empty() {
            return;
        }
        // The connection belongs to the test's runtime, which Drop cannot drive;
        // a thread with its own runtime and connection does the cleanup.
        let url = self.url.clone();
        let worker = std::thread::spawn(move || delete_queues_blocking(&url, &queues));
        let _ = worker.join();
    }
}

/// Deletes each queue's keys and its entry in Sidekiq's `queues` set, ignoring errors.
fn delete_queues_blocking(url: &str, queues: &[String]) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let keys: Vec<String> = queues
        .iter()
        .flat_map(|q| [q.clone(), format!("queue:{q}")])
        .collect();
    runtime.block_on(async {
        let work = async {
            let client = Client::open(url)?;
            let mut conn = client.get_multiplexed_async_connection().await?;
            let mut pipe = ::redis::pipe();
            pipe.cmd("DEL").arg(&keys).ignore();
            pipe.cmd("SREM").arg("queues").arg(queues).ignore();
            pipe.query_async::<()>(&mut conn).await
        };
        let _ = tokio::time::timeout(CLEANUP_TIMEOUT, work).await;
    });
}
