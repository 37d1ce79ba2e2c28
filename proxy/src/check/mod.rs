//! `switchyard check`: load a route file exactly as `run` would, without the network,
//! then look for routes that compete for the same requests.
//!
//! Errors fail the check. Warnings do not: a route that can never match (shadowed) and
//! two routes that can take the same request (overlap) are often deliberate carve-outs,
//! but an operator should see them. [`overlap`] finds them; [`report`] prints the
//! outcome as text or as JSON.

mod overlap;
mod report;

use std::path::Path;
use std::process::ExitCode;

use serde::Deserialize;
use switchyard_handlers::Registry;

use crate::cli::{CheckArgs, CheckFormat};
use crate::config::{self, Config, ConfigError, Location};
use report::{Problem, Report, Summary, Warning};

/// Prints the outcome in the format asked for; fails when the file has errors.
pub fn run(args: &CheckArgs) -> ExitCode {
    let report = check(&args.file, &Registry::standard());
    match args.format {
        CheckFormat::Text => report.print_text(),
        CheckFormat::Json => report.print_json(),
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `5 routes (4 native, 1 upstream), 1 upstreams, 4 handlers (...)`
pub fn summary(config: &Config) -> String {
    Summary::of(config).to_string()
}

/// Loads `file`: its errors, or its summary and warnings.
fn check(file: &Path, registry: &Registry) -> Report {
    let source = match std::fs::read_to_string(file) {
        Ok(source) => source,
        Err(e) => return Report::failed(file, vec![unreadable(&e)]),
    };
    match config::from_source(file, &source, registry) {
        Ok(config) => {
            let warnings = warnings(file, &source, &config);
            Report::passed(file, Summary::of(&config), warnings)
        }
        Err(error) => Report::failed(file, problems(error)),
    }
}

fn problems(error: ConfigError) -> Vec<Problem> {
    match error {
        ConfigError::Invalid(found) => found
            .into_iter()
            .map(|d| Problem {
                location: Some(d.location),
                message: d.message,
            })
            .collect(),
        ConfigError::Read { source, .. } => vec![unreadable(&source)],
    }
}

fn unreadable(error: &std::io::Error) -> Problem {
    Problem {
        location: None,
        message: format!("cannot read: {error}"),
    }
}

/// Shadowed and overlapping routes, each placed at the `path` of the route that loses.
fn warnings(file: &Path, source: &str, config: &Config) -> Vec<Warning> {
    let paths = route_paths(file, source);
    let place = |position: usize| {
        paths
            .get(position)
            .cloned()
            .unwrap_or_else(|| Location::at(file, source, 0))
    };
    overlap::findings(config.table.routes())
        .into_iter()
        .map(|finding| Warning {
            location: place(finding.route),
            kind: finding.kind,
            message: finding.message(place(finding.winner).line),
        })
        .collect()
}

/// Where the `path` of each `[[routes]]` entry is, in file order (a route's
/// `position`). The loaded model keeps no positions, so the file is read again for
/// them; the text already parsed once, so this cannot fail in practice.
fn route_paths(file: &Path, source: &str) -> Vec<Location> {
    #[derive(Deserialize)]
    struct Paths {
        #[serde(default)]
        routes: Vec<RoutePath>,
    }
    #[derive(Deserialize)]
    struct RoutePath {
        path: toml::Spanned<String>,
    }
    let Ok(paths) = toml::from_str::<Paths>(source) else {
        return Vec::new();
    };
    paths
        .routes
        .iter()
        .map(|route| Location::at(file, source, route.path.span().start))
        .collect()
}
