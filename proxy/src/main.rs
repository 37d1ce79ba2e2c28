//! The `switchyard` binary.

mod admin;
mod cache;
mod check;
mod cli;
mod config;
mod edge;
mod limits;
mod reload;
mod routing;
mod server;
mod upstream;
mod worker;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

// The request path allocates and frees many small buffers; mimalloc served the
// pass-through benchmark with about 15% less CPU per request than glibc's malloc
// (bench/analysis.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Run(args) => {
            init_logging();
            match server::run(args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    log::error!("switchyard cannot start: {error}");
                    eprintln!("switchyard: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Worker(args) => {
            init_logging();
            worker::run(args)
        }
    }
}

/// Logs to stderr at the level `RUST_LOG` sets, `info` by default. JSON access-log
/// lines are printed bare, so a log pipeline can read every one as a JSON object.
fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(|buf, record| {
            if record.target() == edge::JSON_ACCESS_TARGET {
                return writeln!(buf, "{}", record.args());
            }
            let time = buf.timestamp_millis();
            writeln!(
                buf,
                "[{time} {} {}] {}",
                record.level(),
                record.target(),
                record.args()
            )
        })
        .init();
}
