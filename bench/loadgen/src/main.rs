//! `switchyard-loadgen`: load scenarios against a running Switchyard edge.
//!
//! This file owns the command line: it checks the arguments and the open-file limit,
//! runs the scenario, writes the report and turns the result into the exit status
//! (0 when every booking was decided and nothing went wrong, 1 otherwise, 2 when the
//! run could not start or its report could not be written).

mod client;
mod fdlimit;
mod record;
mod report;
mod spike;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::report::Summary;
use crate::spike::Settings;

/// File descriptors kept for what is not a fan's socket: stdio, the report files,
/// the runtime's own.
const SPARE_FILES: u64 = 100;

/// Load scenarios against a running Switchyard edge.
#[derive(Parser, Debug)]
#[command(name = "switchyard-loadgen", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The on-sale spike: fans arrive over a ramp, read the event, book seats and
    /// follow their booking until it is decided.
    Spike(SpikeArgs),
}

#[derive(Args, Debug)]
struct SpikeArgs {
    /// The edge, as http://HOST:PORT.
    #[arg(long)]
    base_url: String,

    /// Virtual fans in the run.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    clients: u32,

    /// Time over which the fans arrive, evenly spread ("10s", "500ms").
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    ramp: Duration,

    /// Event the fans read and book.
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
    event_id: i64,

    /// Directory for timeline.csv and summary.json; created when missing.
    #[arg(long)]
    out: PathBuf,

    /// Seconds each status poll asks the edge to hold the request; below the 60 s a
    /// request may take, so a held poll is never counted as a timeout.
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u64).range(0..=55))]
    wait: u64,

    /// Retries of a booking refused as overloaded, with the same Idempotency-Key.
    #[arg(long, default_value_t = 3)]
    retries: u32,

    /// End of the run, from its start: bookings not decided by then count as lost.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    deadline: Duration,
}

#[tokio::main]
async fn main() -> ExitCode {
    let Command::Spike(args) = Cli::parse().command;
    let settings = match prepare(&args) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("switchyard-loadgen: {message}");
            return ExitCode::from(2);
        }
    };
    let outcome = spike::run(settings.clone()).await;
    let summary = Summary::new(&settings, &outcome);
    let timeline = outcome.recorder.timeline(outcome.duration);
    if let Err(err) = report::write(&args.out, &summary, &timeline) {
        eprintln!(
            "switchyard-loadgen: cannot write to {}: {err}",
            args.out.display()
        );
        return ExitCode::from(2);
    }
    print!("{}", report::text(&summary, &args.out));
    if summary.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Everything that can stop a run before it sends a request.
fn prepare(args: &SpikeArgs) -> Result<Settings, String> {
    let base_url = args.base_url.trim_end_matches('/').to_owned();
    if !base_url.starts_with("http://") || base_url.parse::<http::Uri>().is_err() {
        return Err(format!(
            "--base-url {base_url:?} is not an http://HOST:PORT URL"
        ));
    }
    if args.deadline.is_zero() || args.ramp >= args.deadline {
        return Err("--deadline must be longer than --ramp".to_owned());
    }
    let needed = u64::from(args.clients) + SPARE_FILES;
    if let Some(was) = fdlimit::ensure(needed)? {
        eprintln!("switchyard-loadgen: raised the open-file limit from {was} to {needed}");
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|err| format!("cannot create {}: {err}", args.out.display()))?;
    Ok(Settings {
        base_url,
        clients: args.clients,
        ramp: args.ramp,
        event_id: args.event_id,
        wait: args.wait,
        retries: args.retries,
        deadline: args.deadline,
    })
}
