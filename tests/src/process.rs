//! A child process under test: its id, signals, and its exit, remembered once seen and
//! waited for with a deadline. The edge and the worker wrappers build on it.

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How often an exit is polled for.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// A spawned process and, once it has exited, its status.
pub struct Process {
    child: Child,
    exit: Option<ExitStatus>,
    /// What it is, for panic messages.
    name: &'static str,
}

impl Process {
    pub fn new(child: Child, name: &'static str) -> Process {
        Process {
            child,
            exit: None,
            name,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(self.child.id() as i32);
        kill(pid, signal).unwrap_or_else(|err| panic!("send {signal} to the {}: {err}", self.name));
    }

    /// The exit status if the process has exited.
    pub fn poll_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// Waits up to `within` for the process to exit on its own.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.poll_exit() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Waits, without a runtime, up to `within` for the process to exit.
    pub fn wait_exit_blocking(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        while self.poll_exit().is_none() && Instant::now() < deadline {
            std::thread::sleep(POLL_INTERVAL);
        }
        self.exit
    }

    /// Sends SIGTERM and waits up to `within`; `None` (after a SIGKILL) when the
    /// process ignored it.
    pub async fn terminate(&mut self, within: Duration) -> Option<ExitStatus> {
        if let Some(status) = self.poll_exit() {
            return Some(status);
        }
        self.signal(Signal::SIGTERM);
        let status = self.wait_exit(within).await;
        if status.is_none() {
            self.kill();
        }
        status
    }

    /// SIGKILLs the process, if it still runs, and reaps it.
    pub fn kill(&mut self) {
        if self.poll_exit().is_none() {
            let _ = self.child.kill();
            self.exit = self.child.wait().ok();
        }
    }
}
