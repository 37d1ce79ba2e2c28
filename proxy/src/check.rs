//! `switchyard check`: load a route file exactly as `run` would, without the network.

use std::process::ExitCode;

use switchyard_handlers::Registry;

use crate::cli::CheckArgs;
use crate::config::{self, Config};

/// Prints a one-line summary and succeeds, or prints every problem and fails.
pub fn run(args: &CheckArgs) -> ExitCode {
    let registry = Registry::standard();
    match config::load(&args.file, &registry) {
        Ok(config) => {
            println!("{}: ok: {}", args.file.display(), summary(&config));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// `5 routes (4 native, 1 upstream), 1 upstream, 4 handlers`
pub fn summary(config: &Config) -> String {
    let routes = config.table.routes();
    let native = config.handler_names();
    let native_routes = routes
        .iter()
        .filter(|r| matches!(r.target, crate::routing::Target::Native { .. }))
        .count();
    format!(
        "{} routes ({} native, {} upstream), {} upstreams, {} handlers ({})",
        routes.len(),
        native_routes,
        routes.len() - native_routes,
        config.upstreams.len(),
        native.len(),
        native.join(", "),
    )
}
