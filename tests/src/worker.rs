//! Runs the real `switchyard worker` as a child process, and the Redis-side tools its
//! suites need: contract payloads, the `bookings:updates` subscription, and polling
//! with a deadline.
//!
//! Each worker gets a temp dir for its captured output, which failures print. A worker
//! still running when its handle drops is stopped with SIGTERM, then SIGKILL.

use std::collections::HashSet;
use std::fs::File;
use std::future::Future;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client, PushInfo, PushKind, Value as RedisValue};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use crate::process::Process;
use crate::{binary_path, random_hex};

/// How long a worker may take to log that it started.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a worker may take to exit after SIGTERM when a test does not say.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// How long Drop waits after SIGTERM before SIGKILL.
const DROP_GRACE: Duration = Duration::from_secs(5);
/// How often process state, logs and stores are polled.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// What the worker logs once it fetches.
const STARTED: &str = " started: queue=";

/// What to run a worker with.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    pub redis_url: String,
    pub database_url: String,
    pub queue: String,
    /// Further flags, e.g. `--concurrency 10`.
    pub args: Vec<String>,
}

impl WorkerConfig {
    /// A worker on `queue`, with quick heartbeats and polls so tests of dead workers
    /// and retries finish in seconds.
    pub fn new(redis_url: &str, database_url: &str, queue: &str) -> WorkerConfig {
        WorkerConfig {
            redis_url: redis_url.into(),
            database_url: database_url.into(),
            queue: queue.into(),
            args: ["--heartbeat-ttl", "2s", "--poll-interval", "300ms"]
                .map(String::from)
                .to_vec(),
        }
    }

    /// Adds `--flag value`.
    pub fn arg(mut self, flag: &str, value: impl Into<String>) -> WorkerConfig {
        self.args.push(flag.into());
        self.args.push(value.into());
        self
    }
}

/// A running worker; stopped on Drop if still running.
pub struct WorkerProcess {
    process: Process,
    dir: TempDir,
}

impl WorkerProcess {
    /// Starts a worker and waits until it logs that it fetches; panics with its
    /// output otherwise.
    pub async fn start(config: WorkerConfig) -> WorkerProcess {
        let mut worker = WorkerProcess::launch(config);
        let deadline = Instant::now() + START_TIMEOUT;
        while !worker.logs().contains(STARTED) {
            if let Some(status) = worker.process.poll_exit() {
                panic!("the worker exited ({status}) at start:\n{}", worker.logs());
            }
            if Instant::now() >= deadline {
                panic!(
                    "the worker did not start in {START_TIMEOUT:?}:\n{}",
                    worker.logs()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        worker
    }

    /// Starts a worker without waiting for it, for tests of refusals to start.
    pub fn launch(config: WorkerConfig) -> WorkerProcess {
        let dir = tempfile::Builder::new()
            .prefix("switchyard-worker-")
            .tempdir()
            .expect("create the worker's temp dir");
        let child = spawn(&config, dir.path());
        WorkerProcess {
            process: Process::new(child, "worker"),
            dir,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The identity the worker registered under (`host:pid:hex`).
    pub fn identity(&self) -> String {
        let logs = self.logs();
        let line = logs.lines().find(|line| line.contains(STARTED));
        let after = line.and_then(|line| line.split("worker ").nth(1));
        let identity = after.and_then(|rest| rest.split(STARTED).next());
        identity
            .unwrap_or_else(|| panic!("no identity in the worker's logs:\n{logs}"))
            .to_owned()
    }

    /// Everything the process wrote so far: stderr, then stdout.
    pub fn logs(&self) -> String {
        let read = |name: &str| {
            std::fs::read(self.dir.path().join(name))
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_default()
        };
        format!("{}{}", read("stderr.log"), read("stdout.log"))
    }

    /// Waits until the logs contain `needle`; panics with the logs after `within`.
    pub async fn wait_for_log(&self, needle: &str, within: Duration) -> String {
        poll(
            within,
            &format!("{needle:?} in the worker's logs"),
            || async {
                let logs = self.logs();
                logs.contains(needle).then_some(logs)
            },
        )
        .await
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: Signal) {
        self.process.signal(signal);
    }

    /// SIGKILLs the process and reaps it: a crash, as far as Redis can tell.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Sends SIGTERM and waits up to `within` for the exit; panics with the logs past it.
    pub async fn terminate(&mut self, within: Duration) -> ExitStatus {
        match self.process.terminate(within).await {
            Some(status) => status,
            None => panic!(
                "the worker ignored SIGTERM for {within:?}:\n{}",
                self.logs()
            ),
        }
    }

    /// [`WorkerProcess::terminate`] with the default patience.
    pub async fn stop(&mut self) -> ExitStatus {
        self.terminate(STOP_TIMEOUT).await
    }

    /// Waits up to `within` for the process to exit on its own.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        self.process.wait_exit(within).await
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if self.process.poll_exit().is_some() {
            return;
        }
        // A clean stop gives its jobs back at once; a kill leaves that to the next
        // worker's reaper.
        let _ = kill(Pid::from_raw(self.process.pid() as i32), Signal::SIGTERM);
        self.process.wait_exit_blocking(DROP_GRACE);
        self.process.kill();
    }
}

fn spawn(config: &WorkerConfig, dir: &Path) -> Child {
    let log = |name: &str| {
        File::create(dir.join(name)).unwrap_or_else(|err| panic!("create {name}: {err}"))
    };
    Command::new(binary_path())
        .arg("worker")
        .args(["--redis-url", &config.redis_url])
        .args(["--database-url", &config.database_url])
        .args(["--queue", &config.queue])
        .args(&config.args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log("stdout.log"))
        .stderr(log("stderr.log"))
        .spawn()
        .unwrap_or_else(|err| panic!("spawn switchyard worker: {err}"))
}

/// Polls `probe` every few milliseconds until it gives a value; panics naming `what`
/// after `within`.
pub async fn poll<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("waited {within:?} for {what}");
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// The wall clock in epoch milliseconds.
pub fn now_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is past 1970");
    since_epoch.as_millis() as i64
}

/// A `BookingJob` payload exactly as the contract describes it, for tests that push
/// jobs themselves (old ones, duplicates, ones that must fail).
#[derive(Clone, Debug)]
pub struct BookingJob {
    pub booking_id: String,
    pub event_id: i64,
    pub user_ref: String,
    pub quantity: i64,
    pub enqueued_at_ms: i64,
    pub queue: String,
    pub jid: String,
    /// Sidekiq's `retry`: `true`, `false` or a count.
    pub retry: Value,
    pub lifespan_ms: i64,
}

impl BookingJob {
    /// A job accepted now, with a fresh booking id and jid, retry on, 2 minutes to live.
    pub fn new(queue: &str, event_id: i64, quantity: i64) -> BookingJob {
        BookingJob {
            booking_id: uuid::Uuid::new_v4().to_string(),
            event_id,
            user_ref: format!("fan-{}", random_hex(3)),
            quantity,
            enqueued_at_ms: now_ms(),
            queue: queue.into(),
            jid: random_hex(12),
            retry: json!(true),
            lifespan_ms: 120_000,
        }
    }

    /// The JSON payload, with float-second timestamps as Sidekiq 7 writes them.
    pub fn payload(&self) -> String {
        let seconds = self.enqueued_at_ms as f64 / 1000.0;
        let args = json!([
            self.booking_id,
            self.event_id,
            self.user_ref,
            self.quantity,
            self.enqueued_at_ms
        ]);
        json!({
            "class": "BookingJob",
            "args": args,
            "queue": self.queue,
            "jid": self.jid,
            "retry": self.retry,
            "created_at": seconds,
            "enqueued_at": seconds,
            "lifespan_ms": self.lifespan_ms,
        })
        .to_string()
    }

    /// `SADD queues` and `LPUSH queue:<queue>`, as a Sidekiq client enqueues.
    pub async fn enqueue(&self, connection: &mut MultiplexedConnection) {
        let queue = format!("queue:{}", self.queue);
        ::redis::pipe()
            .sadd("queues", &self.queue)
            .ignore()
            .lpush(&queue, self.payload())
            .ignore()
            .query_async::<()>(connection)
            .await
            .unwrap_or_else(|err| panic!("enqueue on {queue}: {err}"));
    }
}

/// A subscription to `bookings:updates`, opened before jobs are enqueued so no update
/// is missed.
pub struct Updates {
    // Held so the subscription lives as long as this value.
    _connection: MultiplexedConnection,
    messages: UnboundedReceiver<PushInfo>,
}

impl Updates {
    /// Subscribes on a RESP3 connection to the Redis at `redis_url`.
    pub async fn subscribe(redis_url: &str) -> Updates {
        let mut url = url::Url::parse(redis_url).expect("a valid Redis URL");
        url.query_pairs_mut().append_pair("protocol", "resp3");
        let client = Client::open(url.as_str()).expect("a valid Redis URL");
        let (sender, messages) = unbounded_channel();
        let config = AsyncConnectionConfig::new().set_push_sender(sender);
        let mut connection = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .unwrap_or_else(|err| panic!("connect to Redis for updates: {err}"));
        connection
            .subscribe("bookings:updates")
            .await
            .unwrap_or_else(|err| panic!("subscribe to bookings:updates: {err}"));
        Updates {
            _connection: connection,
            messages,
        }
    }

    /// The next `count` updates about any of `ids`, in arrival order; other tests'
    /// updates on the shared channel are skipped. Panics after `within`.
    pub async fn collect(&mut self, ids: &[&str], count: usize, within: Duration) -> Vec<Value> {
        let wanted: HashSet<&str> = ids.iter().copied().collect();
        let deadline = tokio::time::Instant::now() + within;
        let mut found = Vec::new();
        while found.len() < count {
            let next = tokio::time::timeout_at(deadline, self.messages.recv()).await;
            let Ok(Some(push)) = next else {
                panic!(
                    "{} of {count} updates within {within:?}: {found:?}",
                    found.len()
                );
            };
            let Some(update) = update_of(push) else {
                continue;
            };
            if update["id"].as_str().is_some_and(|id| wanted.contains(id)) {
                found.push(update);
            }
        }
        found
    }
}

/// The JSON of a `message` push, if it is one.
fn update_of(push: PushInfo) -> Option<Value> {
    if push.kind != PushKind::Message {
        return None;
    }
    // A message push carries the channel, then the payload.
    match push.data.get(1)? {
        RedisValue::BulkString(bytes) => serde_json::from_slice(bytes).ok(),
        _ => None,
    }
}
