//! `switchyard worker`: the command-line side of the booking worker. It turns flags and
//! the environment into [`WorkerSettings`], runs the worker on a runtime of its own, and
//! turns SIGTERM and SIGINT into a graceful stop. The worker itself lives in
//! `switchyard_handlers::worker`.

use std::process::ExitCode;

use switchyard_handlers::worker::{self, WorkerSettings};
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::cli::WorkerArgs;

/// Environment variable read when `--redis-url` is not given (the edge's too).
const REDIS_URL_ENV: &str = "REDIS_URL";
/// Environment variable read when `--database-url` is not given. Not the edge's
/// `DATABASE_URL`: that one names a read-only role.
const DATABASE_URL_ENV: &str = "WORKER_DATABASE_URL";

/// Runs the worker until a signal stops it; a clean stop exits 0.
pub fn run(args: WorkerArgs) -> ExitCode {
    let settings = settings(args, |name| std::env::var(name).ok());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("switchyard-worker")
        .build();
    let result = match runtime {
        Ok(runtime) => runtime.block_on(run_until_signalled(settings)),
        Err(error) => Err(format!("cannot start the runtime: {error}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            log::error!("switchyard worker cannot run: {error}");
            eprintln!("switchyard worker: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run_until_signalled(settings: WorkerSettings) -> Result<(), String> {
    // Installed before anything starts, so an early SIGTERM is a clean stop too.
    let terminate = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM: {e}"))?;
    let interrupt = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT: {e}"))?;
    worker::run(settings, first_of(terminate, interrupt))
        .await
        .map_err(|error| error.to_string())
}

async fn first_of(mut terminate: Signal, mut interrupt: Signal) {
    let name = tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    };
    log::info!("{name} received");
}

/// Flags first, then the environment (read through `env`), then the defaults.
fn settings(args: WorkerArgs, env: impl Fn(&str) -> Option<String>) -> WorkerSettings {
    let defaults = WorkerSettings::default();
    WorkerSettings {
        redis_url: args
            .redis_url
            .or_else(|| env(REDIS_URL_ENV))
            .unwrap_or(defaults.redis_url),
        database_url: args
            .database_url
            .or_else(|| env(DATABASE_URL_ENV))
            .unwrap_or(defaults.database_url),
        queue: args.queue,
        job_class: args.job_class,
        concurrency: args.concurrency,
        lifespan: args.lifespan,
        shutdown_timeout: args.shutdown_timeout,
        heartbeat_ttl: args.heartbeat_ttl,
        poll_interval: args.poll_interval,
        connect_timeout: args.connect_timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn worker_args(flags: &[&str]) -> WorkerArgs {
        let argv = ["switchyard", "worker"].iter().chain(flags);
        match Cli::parse_from(argv).command {
            Command::Worker(args) => args,
            other => panic!("expected worker, got {other:?}"),
        }
    }

    #[test]
    fn urls_come_from_flags_then_environment_then_defaults() {
        let env = |name: &str| match name {
            "REDIS_URL" => Some("redis://env:6379/2".to_owned()),
            "WORKER_DATABASE_URL" => Some("postgres://writer@env/db".to_owned()),
            _ => None,
        };
        let from_env = settings(worker_args(&[]), env);
        assert_eq!(from_env.redis_url, "redis://env:6379/2");
        assert_eq!(from_env.database_url, "postgres://writer@env/db");

        let flags = worker_args(&[
            "--redis-url",
            "redis://flag/0",
            "--database-url",
            "postgres://f/d",
        ]);
        let from_flags = settings(flags, env);
        assert_eq!(from_flags.redis_url, "redis://flag/0");
        assert_eq!(from_flags.database_url, "postgres://f/d");

        let defaults = settings(worker_args(&[]), |_| None);
        assert_eq!(defaults.redis_url, "redis://127.0.0.1:6379/0");
        assert_eq!(
            defaults.database_url,
            "postgres://postgres@127.0.0.1:5432/switchyard"
        );
    }

    #[test]
    fn the_edges_database_url_is_never_used() {
        let env = |name: &str| {
            (name == "DATABASE_URL").then(|| "postgres://switchyard_edge@h/d".to_owned())
        };
        let settings = settings(worker_args(&[]), env);
        assert!(!settings.database_url.contains("switchyard_edge"));
    }
}
