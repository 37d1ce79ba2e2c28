//! Runs a real Sidekiq with the reference `BookingJob` (`sidekiq/booking_job.rb`), so
//! suites can prove that the jobs the edge enqueues are the jobs the worker consumes.
//!
//! Each worker reads one test's queue, logs to a file in its own temp dir, and runs in
//! a process group of its own that is stopped (SIGTERM, then SIGKILL) on Drop. Sidekiq
//! itself comes from the distribution (`ruby-sidekiq`, with `ruby-pg`); this module only
//! finds and runs it.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use ::redis::AsyncCommands;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tempfile::TempDir;

use crate::{random_hex, workspace_root};

/// Where Debian's `ruby-sidekiq` installs the command when it is not on `PATH`.
const FALLBACK_BINARY: &str = "/usr/bin/sidekiq";

/// What installs Sidekiq and the PostgreSQL driver the job needs.
const INSTALL_HINT: &str = "apt-get install -y ruby-sidekiq ruby-pg";

/// How long Sidekiq may take to boot and register its first heartbeat.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Sidekiq's own shutdown timeout (`-t`): how long jobs in progress may finish.
const SHUTDOWN_SECONDS: u64 = 2;

/// How long the process may take to exit after SIGTERM before it gets SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(SHUTDOWN_SECONDS + 8);

/// How often the heartbeat, the process and the log are polled.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A running `sidekiq` process; stopped on Drop.
pub struct SidekiqWorker {
    child: Child,
    dir: TempDir,
    exit: Option<ExitStatus>,
}

impl SidekiqWorker {
    /// Starts `sidekiq -r sidekiq/booking_job.rb -q <queue> -c <concurrency>` against
    /// `redis_url` and `database_url` (a role that can write), and waits until it has
    /// registered with Redis. Panics with the install command when Sidekiq is missing,
    /// and with its log when it does not come up.
    pub async fn start(
        redis_url: &str,
        database_url: &str,
        queue: &str,
        concurrency: usize,
    ) -> SidekiqWorker {
        let dir = tempfile::Builder::new()
            .prefix("switchyard-sidekiq-")
            .tempdir()
            .expect("create the worker's temp dir");
        // A tag no other worker has, to find this process among every test's heartbeats.
        let tag = format!("switchyard-test-{}", random_hex(6));
        let log = File::create(dir.path().join("sidekiq.log")).expect("create sidekiq.log");

        let child = Command::new(binary_path())
            .arg("-r")
            .arg(job_path())
            .args(["-q", queue, "-c", &concurrency.to_string()])
            .args(["-t", &SHUTDOWN_SECONDS.to_string(), "-g", &tag])
            .env("REDIS_URL", redis_url)
            .env("DATABASE_URL", database_url)
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("share sidekiq.log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|err| panic!("spawn sidekiq: {err}; install it with `{INSTALL_HINT}`"));
        let mut worker = SidekiqWorker {
            child,
            dir,
            exit: None,
        };
        worker.wait_ready(redis_url, &tag).await;
        worker
    }

    /// The process id, which is also its process group id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process logged so far.
    pub fn logs(&self) -> String {
        std::fs::read(self.dir.path().join("sidekiq.log"))
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// Sends SIGTERM to the process group and waits up to [`STOP_TIMEOUT`] for a clean
    /// exit, then sends SIGKILL. Blocks the calling thread meanwhile.
    pub fn stop(&mut self) -> ExitStatus {
        if let Some(status) = self.poll_exit() {
            return status;
        }
        self.signal_group(Signal::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.poll_exit() {
                return status;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        self.signal_group(Signal::SIGKILL);
        let status = self.child.wait().expect("reap the killed sidekiq");
        *self.exit.insert(status)
    }

    /// Polls until Sidekiq's heartbeat with `tag` is in Redis's `processes` set.
    async fn wait_ready(&mut self, redis_url: &str, tag: &str) {
        let client = ::redis::Client::open(redis_url)
            .unwrap_or_else(|err| panic!("bad Redis URL {redis_url}: {err}"));
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|err| panic!("connect to Redis at {redis_url}: {err}"));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.poll_exit() {
                panic!("{}", self.start_failure(&format!("exited with {status}")));
            }
            if has_heartbeat(&mut conn, self.pid(), tag).await {
                return;
            }
            if Instant::now() >= deadline {
                self.stop();
                panic!(
                    "{}",
                    self.start_failure(&format!("not up in {START_TIMEOUT:?}"))
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Why the worker did not start, with its log and, for a missing gem, the fix.
    fn start_failure(&self, what: &str) -> String {
        let logs = self.logs();
        let hint = if logs.contains("cannot load such file") {
            format!("\na Ruby library is missing: `{INSTALL_HINT}`")
        } else {
            String::new()
        };
        format!("sidekiq {what}; its output:\n{logs}{hint}")
    }

    /// The exit status if the process has exited, remembering it once seen.
    fn poll_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// Signals the group led by our child. Only called before the child is reaped, so
    /// the group id cannot belong to anyone else yet.
    fn signal_group(&self, signal: Signal) {
        let _ = killpg(Pid::from_raw(self.pid() as i32), signal);
    }
}

impl Drop for SidekiqWorker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether one of the `processes` Sidekiq registered is `pid` started with `tag`.
async fn has_heartbeat(
    conn: &mut ::redis::aio::MultiplexedConnection,
    pid: u32,
    tag: &str,
) -> bool {
    let members: Vec<String> = conn.smembers("processes").await.unwrap_or_default();
    // Identities are `hostname:pid:nonce`; the tag rules out a stale entry of a reused pid.
    for identity in members.iter().filter(|m| m.contains(&format!(":{pid}:"))) {
        let info: Option<String> = conn.hget(identity, "info").await.unwrap_or_default();
        let info: serde_json::Value = info
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        if info["tag"] == tag {
            return true;
        }
    }
    false
}

/// The `sidekiq` command: the first on `PATH`, else Debian's. Panics with the install
/// command when there is none, so a missing Sidekiq fails the suite instead of skipping.
pub fn binary_path() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("sidekiq"))
        .find(|candidate| candidate.is_file());
    on_path
        .or_else(|| Some(PathBuf::from(FALLBACK_BINARY)).filter(|path| path.is_file()))
        .unwrap_or_else(|| panic!("sidekiq is not installed: run `{INSTALL_HINT}`"))
}

/// The reference job the worker runs.
pub fn job_path() -> PathBuf {
    let path = workspace_root().join("sidekiq/booking_job.rb");
    assert!(path.is_file(), "missing {}", path.display());
    path
}
