//! Runs the real `switchyard` binary as a child process for a test.
//!
//! Each edge gets its own temp dir holding its routes file, its Pingora conf
//! (with its own pid file and upgrade socket, so parallel edges never collide)
//! and its captured output, which failures print.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub use nix::sys::signal::Signal;
use tempfile::TempDir;

use crate::process::Process;
use crate::{free_port, workspace_root};

/// How long the edge may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How long the edge may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// How long `switchyard check` may run.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// How often process state and ports are polled.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Attempts at starting when another process grabbed the chosen port first.
const START_ATTEMPTS: usize = 3;

/// What to run the edge with.
#[derive(Clone, Debug, Default)]
pub struct EdgeConfig {
    /// The routes file's text, written as-is.
    pub routes_toml: String,
    /// Extra environment for the process, applied after `RUST_LOG=info`.
    pub env: Vec<(String, String)>,
    /// Extra lines appended to the generated Pingora YAML conf; a top-level key set
    /// here (e.g. `grace_period_seconds: 2`) replaces the generated line.
    pub conf_extra: String,
}

impl EdgeConfig {
    /// A config running `routes_toml`.
    pub fn new(routes_toml: impl Into<String>) -> EdgeConfig {
        EdgeConfig {
            routes_toml: routes_toml.into(),
            ..EdgeConfig::default()
        }
    }

    /// Adds an environment variable for the process.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> EdgeConfig {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Appends YAML lines to the Pingora conf, e.g. `upstream_keepalive_pool_size: 4`;
    /// a key the generated conf sets, such as `grace_period_seconds`, replaces its line.
    pub fn conf_extra(mut self, yaml: impl Into<String>) -> EdgeConfig {
        self.conf_extra = yaml.into();
        self
    }
}

/// Why an edge did not come up.
#[derive(Debug)]
pub struct StartError {
    /// How the process exited; `None` when it was still running at the deadline.
    pub status: Option<ExitStatus>,
    /// Its stderr and stdout.
    pub logs: String,
}

/// A running edge; killed with SIGKILL on Drop if still running.
pub struct Edge {
    process: Process,
    addr: SocketAddr,
    /// Offered to the edge as `SWITCHYARD_ADMIN_LISTEN`; used when its route file has
    /// `[admin] listen = "${SWITCHYARD_ADMIN_LISTEN...}"`, as the shipped one does.
    admin_addr: SocketAddr,
    dir: TempDir,
}

impl Edge {
    /// Starts the edge and waits until it accepts TCP; panics with its logs on failure.
    pub async fn start(config: EdgeConfig) -> Edge {
        match Edge::try_start(config).await {
            Ok(edge) => edge,
            Err(StartError { status, logs }) => {
                panic!("switchyard did not start (exit: {status:?}); its output:\n{logs}")
            }
        }
    }

    /// Starts the edge, handing back its exit status and logs if it fails.
    pub async fn try_start(config: EdgeConfig) -> Result<Edge, StartError> {
        let bin = binary_path();
        let dir = tempfile::Builder::new()
            .prefix("switchyard-edge-")
            .tempdir()
            .expect("create the edge's temp dir");
        write_files(dir.path(), &config);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
            let admin_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
            let mut child = spawn_run(&bin, dir.path(), (addr, admin_addr), &config);
            match wait_ready(&mut child, addr, dir.path()).await {
                Ok(()) => {
                    return Ok(Edge {
                        process: Process::new(child, "edge"),
                        addr,
                        admin_addr,
                        dir,
                    });
                }
                Err(err) if attempt < START_ATTEMPTS && port_was_taken(&err) => continue,
                Err(err) => return Err(err),
            }
        }
    }

    /// Where the edge listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the admin listener is, when the route file enables it.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The temp dir holding the routes file, the conf and the logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The routes file the edge was started with.
    pub fn routes_path(&self) -> PathBuf {
        self.dir.path().join("routes.toml")
    }

    /// Everything the process wrote so far: stderr, then stdout.
    pub fn logs(&self) -> String {
        read_logs(self.dir.path())
    }

    /// Waits until the logs contain `needle`; panics with the logs after `within`.
    pub async fn wait_for_log(&self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let logs = self.logs();
            if logs.contains(needle) {
                return logs;
            }
            if Instant::now() >= deadline {
                panic!("{needle:?} did not appear in the edge's logs within {within:?}:\n{logs}");
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: Signal) {
        self.process.signal(signal);
    }

    /// Whether the process has not exited yet.
    pub fn is_running(&mut self) -> bool {
        self.process.poll_exit().is_none()
    }

    /// Sends SIGTERM and waits for exit; panics with the logs if it takes too long.
    pub async fn stop(&mut self) -> ExitStatus {
        match self.process.terminate(STOP_TIMEOUT).await {
            Some(status) => status,
            None => panic!(
                "the edge ignored SIGTERM for {STOP_TIMEOUT:?}; its output:\n{}",
                self.logs()
            ),
        }
    }

    /// Waits up to `within` for the process to exit on its own.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        self.process.wait_exit(within).await
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        self.process.kill();
    }
}

/// The binary under test: `SWITCHYARD_BIN`, else the workspace's debug build.
pub fn binary_path() -> PathBuf {
    let path = std::env::var_os("SWITCHYARD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/debug/switchyard"));
    assert!(
        path.is_file(),
        "no switchyard binary at {}: run `cargo build --workspace --bins` first \
         (or point SWITCHYARD_BIN at one)",
        path.display()
    );
    path
}

/// Output of `switchyard check`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOutput {
    /// The exit code; `128 + signal` when a signal ended the process.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `switchyard check <args>` from the workspace root and waits for it.
pub fn run_check(args: &[&str]) -> CheckOutput {
    run_check_env(args, &[])
}

/// Like [`run_check`], with extra environment variables.
pub fn run_check_env(args: &[&str], env: &[(&str, &str)]) -> CheckOutput {
    let dir = tempfile::tempdir().expect("create a temp dir for check output");
    let mut child = Command::new(binary_path())
        .arg("check")
        .args(args)
        .envs(env.iter().copied())
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .stdout(log_file(dir.path(), "stdout.log"))
        .stderr(log_file(dir.path(), "stderr.log"))
        .spawn()
        .expect("spawn switchyard check");
    let status = wait_blocking(&mut child, CHECK_TIMEOUT);
    CheckOutput {
        code: exit_code(status),
        stdout: read_lossy(&dir.path().join("stdout.log")),
        stderr: read_lossy(&dir.path().join("stderr.log")),
    }
}

/// Waits for `child` by polling; kills it and panics past `limit`.
fn wait_blocking(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("poll switchyard check") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("switchyard check ran longer than {limit:?}");
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// A shell-style exit code.
fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|signal| 128 + signal))
        .unwrap_or(-1)
}

/// Writes the routes file and the Pingora conf into `dir`.
fn write_files(dir: &Path, config: &EdgeConfig) {
    std::fs::write(dir.join("routes.toml"), &config.routes_toml).expect("write routes.toml");
    // The shipped runtime model (conf/switchyard.yaml): per-thread event loops.
    let defaults = format!(
        "version: 1\nthreads: 2\nwork_stealing: false\npid_file: {}\nupgrade_sock: {}\n\
         grace_period_seconds: 0\ngraceful_shutdown_timeout_seconds: 1\n",
        dir.join("switchyard.pid").display(),
        dir.join("upgrade.sock").display(),
    );
    let defaults = without_keys_of(&defaults, &config.conf_extra);
    let conf = format!("---\n{defaults}{}\n", config.conf_extra);
    std::fs::write(dir.join("pingora.yaml"), conf).expect("write pingora.yaml");
}

/// The lines of `defaults` whose top-level key `extra` does not set: YAML refuses a
/// repeated key, so a key given in `conf_extra` replaces the generated line.
fn without_keys_of(defaults: &str, extra: &str) -> String {
    let top_level_key = |line: &str| {
        let (key, _) = line.split_once(':')?;
        let nested = key.starts_with([' ', '\t', '-', '#']);
        (!nested).then(|| key.trim_end().to_owned())
    };
    let replaced: Vec<String> = extra.lines().filter_map(top_level_key).collect();
    defaults
        .lines()
        .filter(|line| !top_level_key(line).is_some_and(|key| replaced.contains(&key)))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// Spawns `<bin> run` with output captured in `dir`.
fn spawn_run(
    bin: &Path,
    dir: &Path,
    addrs: (SocketAddr, SocketAddr),
    config: &EdgeConfig,
) -> Child {
    spawn(bin, dir, addrs, config, false)
}

/// Spawns `<bin> run` (taking over a running edge's sockets when `upgrade`).
fn spawn(
    bin: &Path,
    dir: &Path,
    (addr, admin): (SocketAddr, SocketAddr),
    config: &EdgeConfig,
    upgrade: bool,
) -> Child {
    let mut command = Command::new(bin);
    command.arg("run");
    if upgrade {
        command.arg("--upgrade");
    }
    command
        .arg("--routes")
        .arg(dir.join("routes.toml"))
        .arg("--conf")
        .arg(dir.join("pingora.yaml"))
        .arg("--listen")
        .arg(addr.to_string())
        .env("RUST_LOG", "info")
        .env("SWITCHYARD_ADMIN_LISTEN", admin.to_string())
        .envs(config.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log_file(dir, "stdout.log"))
        .stderr(log_file(dir, "stderr.log"))
        .spawn()
        .unwrap_or_else(|err| panic!("spawn {}: {err}", bin.display()))
}

/// Polls until the port accepts TCP, the process exits, or the start deadline.
///
/// On failure the process has exited or been killed, and is reaped.
/// What the edge logs once its reload task listens for SIGHUP.
const RELOAD_READY: &str = "on SIGHUP";

async fn wait_ready(child: &mut Child, addr: SocketAddr, dir: &Path) -> Result<(), StartError> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let logs = read_logs(dir);
            return Err(StartError {
                status: Some(status),
                logs,
            });
        }
        // Ready once it serves and a SIGHUP would reload rather than be lost.
        if accepts(addr).await && read_logs(dir).contains(RELOAD_READY) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let logs = read_logs(dir);
            return Err(StartError { status: None, logs });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Whether `addr` accepts a TCP connection right now.
async fn accepts(addr: SocketAddr) -> bool {
    let connect = tokio::net::TcpStream::connect(addr);
    matches!(
        tokio::time::timeout(Duration::from_secs(1), connect).await,
        Ok(Ok(_))
    )
}

/// Whether a start failed because the port was taken between choosing and binding.
fn port_was_taken(err: &StartError) -> bool {
    err.status.is_some() && err.logs.contains("in use")
}

/// A fresh (truncated) log file in `dir`.
fn log_file(dir: &Path, name: &str) -> File {
    File::create(dir.join(name)).unwrap_or_else(|err| panic!("create {name}: {err}"))
}

/// Stderr then stdout of the process that ran in `dir`.
fn read_logs(dir: &Path) -> String {
    let stderr = read_lossy(&dir.join("stderr.log"));
    let stdout = read_lossy(&dir.join("stdout.log"));
    format!("{stderr}{stdout}")
}

/// A file's text, invalid UTF-8 replaced; empty when missing.
fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

impl Edge {
    /// Starts a successor for a zero-downtime upgrade: `switchyard run --upgrade` with a
    /// byte-for-byte copy of this edge's Pingora conf (so the same `upgrade_sock`), the
    /// same listen and admin addresses, and `config`'s routes and environment
    /// (`config.conf_extra` is not used). The successor has a temp dir of its own for
    /// its routes file and logs.
    ///
    /// Returns once the successor has opened the upgrade socket and waits on it for the
    /// listening sockets: send this edge `SIGQUIT` to hand them over. A successor that
    /// gets none within Pingora's few retries exits.
    pub async fn start_successor(&self, config: EdgeConfig) -> Edge {
        let dir = tempfile::Builder::new()
            .prefix("switchyard-successor-")
            .tempdir()
            .expect("create the successor's temp dir");
        let conf = std::fs::read_to_string(self.dir.path().join("pingora.yaml"))
            .expect("read the edge's pingora.yaml");
        std::fs::write(dir.path().join("pingora.yaml"), &conf).expect("copy pingora.yaml");
        std::fs::write(dir.path().join("routes.toml"), &config.routes_toml)
            .expect("write the successor's routes.toml");
        let sock = upgrade_sock_of(&conf);
        // A socket file left by an earlier hand-over would pass for a waiting successor.
        let _ = std::fs::remove_file(&sock);

        let addrs = (self.addr, self.admin_addr);
        let mut child = spawn_successor(&binary_path(), dir.path(), addrs, &config);
        let deadline = Instant::now() + START_TIMEOUT;
        while !sock.exists() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the successor exited ({status}) before opening {}; its output:\n{}",
                    sock.display(),
                    read_logs(dir.path())
                );
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the successor did not open {} within {START_TIMEOUT:?}; its output:\n{}",
                    sock.display(),
                    read_logs(dir.path())
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        Edge {
            process: Process::new(child, "edge"),
            addr: self.addr,
            admin_addr: self.admin_addr,
            dir,
        }
    }
}

/// The `upgrade_sock` a Pingora YAML conf names.
fn upgrade_sock_of(conf: &str) -> PathBuf {
    conf.lines()
        .find_map(|line| line.strip_prefix("upgrade_sock:"))
        .map(|path| PathBuf::from(path.trim()))
        .unwrap_or_else(|| panic!("no upgrade_sock in the conf:\n{conf}"))
}

/// Spawns `<bin> run --upgrade` with the routes and conf in `dir`, output captured there.
fn spawn_successor(
    bin: &Path,
    dir: &Path,
    addrs: (SocketAddr, SocketAddr),
    config: &EdgeConfig,
) -> Child {
    spawn(bin, dir, addrs, config, true)
}
