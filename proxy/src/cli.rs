//! The command line: `switchyard run`, `switchyard check` and `switchyard worker`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use humantime::parse_duration;

/// Switchyard: a programmable edge server that answers hot routes natively and passes
/// everything else through to the legacy app.
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve traffic with the routes of a route file.
    Run(RunArgs),
    /// Check a route file without starting anything; exits non-zero when it is wrong.
    #[command(long_about = CHECK_ABOUT)]
    Check(CheckArgs),
    /// Run booking jobs from the Sidekiq queue, in place of or beside the Ruby worker.
    #[command(long_about = WORKER_ABOUT)]
    Worker(WorkerArgs),
}

const CHECK_ABOUT: &str = "\
Check a route file without starting anything; exits non-zero when it is wrong.

Loads the file exactly as `run` would, without opening a connection, and reports every \
error with file:line:column (exit code 1). It also warns, without failing (exit code 0), \
about a route that can never match because a route tried before it takes every request \
it would (shadowed), and about two routes that can take the same request (overlap), \
naming the one that wins by precedence.

--format text prints `<file>: ok: <summary>` on stdout, and errors and warnings on \
stderr (`<file>:<line>:<column>: warning: ...`). --format json prints one object on \
stdout: {\"file\", \"ok\", \"summary\" (when ok), \"errors\": [{\"line\", \"column\", \
\"message\"}], \"warnings\": [{\"line\", \"column\", \"message\", \"kind\": \"shadowed\" or \
\"overlap\"}]}; line and column are null for a file that cannot be read.";

const WORKER_ABOUT: &str = "\
Run booking jobs from the Sidekiq queue, in place of or beside the legacy Ruby worker.

Fetches BookingJob payloads from queue:<QUEUE>, reserves seats in PostgreSQL, writes the \
status record booking:<id> and publishes on bookings:updates, as the booking-job contract \
says. A job is never lost: it waits in this worker's in-progress list until its outcome is \
written, and when a worker dies another one puts its jobs back in the queue. Failures that \
are not the job's fault go to Sidekiq's retry set (or dead set) with Sidekiq's fields.

SIGTERM or SIGINT stops fetching, lets jobs in flight finish within --shutdown-timeout, \
puts anything unfinished back in the queue and exits 0. Logs go to stderr; RUST_LOG sets \
the level (info by default), with one line per job (target switchyard::job).";

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Route file.
    #[arg(long, value_name = "FILE", default_value = "routes.toml")]
    pub routes: PathBuf,
    /// Pingora server settings (YAML).
    #[arg(long, value_name = "FILE", default_value = "conf/switchyard.yaml")]
    pub conf: PathBuf,
    /// Address to listen on, overriding `server.listen` of the route file.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Take over the listening sockets of a running instance (zero-downtime upgrade).
    #[arg(long)]
    pub upgrade: bool,
}

/// `switchyard worker`. The URLs fall back to the environment, then to local defaults,
/// in [`crate::worker`].
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// Redis the edge enqueues to, with its database [env: REDIS_URL]
    /// [default: redis://127.0.0.1:6379/0]
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,
    /// PostgreSQL as a role that can write bookings and events, not the edge's read-only
    /// role [env: WORKER_DATABASE_URL] [default: postgres://postgres@127.0.0.1:5432/switchyard]
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Sidekiq queue to fetch from (the list queue:<QUEUE>).
    #[arg(long, value_name = "NAME", default_value = "bookings")]
    pub queue: String,
    /// Job class to run; jobs of another class fail as Sidekiq fails an unknown class.
    #[arg(long, value_name = "CLASS", default_value = "BookingJob")]
    pub job_class: String,
    /// Jobs run at once (1 to 200).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub concurrency: usize,
    /// Lifespan of a job whose payload has no lifespan_ms; older jobs expire.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub lifespan: Duration,
    /// After SIGTERM, how long jobs in flight may take to finish.
    #[arg(long, value_name = "DURATION", default_value = "25s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
    /// How long a worker that stops beating counts as alive; after that its jobs go back
    /// to the queue.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub heartbeat_ttl: Duration,
    /// How often to look for dead workers and move due retries back to their queues.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// Longest wait for a Redis or PostgreSQL connection.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Route file.
    #[arg(value_name = "FILE", default_value = "routes.toml")]
    pub file: PathBuf,
    /// How to print the outcome: `text` for people, `json` (one object on stdout) for CI.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
}

/// Output of `switchyard check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    /// The ok line on stdout; errors and warnings on stderr as `file:line:column: ...`.
    Text,
    /// One JSON object on stdout.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_has_working_defaults() {
        let cli = Cli::parse_from(["switchyard", "run"]);
        let Command::Run(args) = cli.command else {
            panic!("expected run")
        };
        assert_eq!(args.routes, PathBuf::from("routes.toml"));
        assert_eq!(args.conf, PathBuf::from("conf/switchyard.yaml"));
        assert_eq!(args.listen, None);
    }

    #[test]
    fn check_prints_text_unless_asked_for_json() {
        let format = |args: &[&str]| {
            let cli = Cli::parse_from(["switchyard", "check"].iter().chain(args));
            let Command::Check(args) = cli.command else {
                panic!("expected check")
            };
            args.format
        };
        assert_eq!(format(&[]), CheckFormat::Text);
        assert_eq!(format(&["--format", "json", "x.toml"]), CheckFormat::Json);
        assert!(Cli::try_parse_from(["switchyard", "check", "--format", "yaml"]).is_err());
    }

    #[test]
    fn worker_has_the_documented_defaults() {
        let cli = Cli::parse_from(["switchyard", "worker"]);
        let Command::Worker(args) = cli.command else {
            panic!("expected worker")
        };
        assert_eq!(
            (args.queue.as_str(), args.job_class.as_str()),
            ("bookings", "BookingJob")
        );
        assert_eq!(args.concurrency, 5);
        assert_eq!(args.lifespan, Duration::from_secs(120));
        assert_eq!(args.shutdown_timeout, Duration::from_secs(25));
        assert_eq!((args.redis_url, args.database_url), (None, None));
    }

    #[test]
    fn worker_reads_durations_as_routes_toml_does() {
        let cli = Cli::parse_from([
            "switchyard",
            "worker",
            "--lifespan",
            "90s",
            "--shutdown-timeout",
            "500ms",
            "--concurrency",
            "10",
        ]);
        let Command::Worker(args) = cli.command else {
            panic!("expected worker")
        };
        assert_eq!(args.lifespan, Duration::from_secs(90));
        assert_eq!(args.shutdown_timeout, Duration::from_millis(500));
        assert_eq!(args.concurrency, 10);
        assert!(Cli::try_parse_from(["switchyard", "worker", "--lifespan", "soon"]).is_err());
    }
}
