//! A private `redis-server` for tests that stop and restart Redis: an outage must never
//! touch the Redis other tests share.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// How long a start or stop may take.
const DEADLINE: Duration = Duration::from_secs(10);

/// A `redis-server` on a port of its own, stopped on Drop.
pub struct PrivateRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts a server on a free port; panics when `redis-server` is missing.
    pub fn start() -> PrivateRedis {
        let dir = tempfile::tempdir().expect("temp dir for redis");
        let mut redis = PrivateRedis {
            port: free_port(),
            dir,
            child: None,
        };
        redis.restart();
        redis
    }

    /// `redis://127.0.0.1:<port>/0`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts the server again on the same port (after [`PrivateRedis::stop`]).
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start redis-server (apt-get install redis-server): {e}"));
        self.child = Some(child);
        self.wait_for(true);
    }

    /// Stops the server, as an outage would.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.wait_for(false);
    }

    fn wait_for(&self, listening: bool) {
        let started = Instant::now();
        let address = format!("127.0.0.1:{}", self.port);
        while TcpStream::connect(&address).is_ok() != listening {
            assert!(
                started.elapsed() < DEADLINE,
                "redis on {address} never became {listening}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
