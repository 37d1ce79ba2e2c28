//! What `switchyard check` found, and the two ways it is printed.
//!
//! Text is for people: the ok line on stdout, errors and warnings on stderr, one per
//! line as `file:line:column: ...`. JSON is for CI pipelines: one object on stdout with
//! the same facts. Deciding what is an error or a warning is left to [`super`].

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::overlap::FindingKind;
use crate::config::{Config, Location};
use crate::routing::Target;

/// The counts of a file that loaded.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub routes: usize,
    pub native_routes: usize,
    pub upstream_routes: usize,
    pub upstreams: usize,
    /// Distinct native handlers in use, sorted.
    pub handlers: Vec<String>,
}

impl Summary {
    pub fn of(config: &Config) -> Self {
        let routes = config.table.routes();
        let native_routes = routes
            .iter()
            .filter(|r| matches!(r.target, Target::Native { .. }))
            .count();
        Summary {
            routes: routes.len(),
            native_routes,
            upstream_routes: routes.len() - native_routes,
            upstreams: config.upstreams.len(),
            handlers: config
                .handler_names()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        }
    }
}

/// `5 routes (4 native, 1 upstream), 1 upstreams, 4 handlers (a, b, c, d)`
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} routes ({} native, {} upstream), {} upstreams, {} handlers ({})",
            self.routes,
            self.native_routes,
            self.upstream_routes,
            self.upstreams,
            self.handlers.len(),
            self.handlers.join(", "),
        )
    }
}

/// An error, at its place in the file when it has one (an unreadable file has none).
pub struct Problem {
    pub location: Option<Location>,
    pub message: String,
}

/// Something that does not fail the check but is probably not what the operator meant.
pub struct Warning {
    /// The route the warning is about.
    pub location: Location,
    pub kind: FindingKind,
    pub message: String,
}

/// The outcome of checking one file.
pub struct Report {
    pub file: PathBuf,
    /// The summary when the file loaded, every error when it did not.
    pub outcome: Result<Summary, Vec<Problem>>,
    /// Empty unless the file loaded.
    pub warnings: Vec<Warning>,
}

impl Report {
    pub fn passed(file: &Path, summary: Summary, warnings: Vec<Warning>) -> Self {
        Report {
            file: file.to_owned(),
            outcome: Ok(summary),
            warnings,
        }
    }

    pub fn failed(file: &Path, errors: Vec<Problem>) -> Self {
        Report {
            file: file.to_owned(),
            outcome: Err(errors),
            warnings: Vec::new(),
        }
    }

    pub fn ok(&self) -> bool {
        self.outcome.is_ok()
    }

    /// Warnings and errors on stderr, then the ok line on stdout.
    pub fn print_text(&self) {
        for warning in &self.warnings {
            eprintln!("{}: warning: {}", warning.location, warning.message);
        }
        match &self.outcome {
            Ok(summary) => println!("{}: ok: {summary}", self.file.display()),
            Err(errors) => {
                for error in errors {
                    match &error.location {
                        Some(location) => eprintln!("{location}: {}", error.message),
                        None => eprintln!("{}: {}", self.file.display(), error.message),
                    }
                }
            }
        }
    }

    /// One JSON object on one line of stdout.
    pub fn print_json(&self) {
        match serde_json::to_string(&self.json()) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!(
                "{}: cannot write the report as JSON: {e}",
                self.file.display()
            ),
        }
    }

    fn json(&self) -> JsonReport<'_> {
        let errors = match &self.outcome {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(JsonEntry::error).collect(),
        };
        JsonReport {
            file: self.file.display().to_string(),
            ok: self.ok(),
            summary: self.outcome.as_ref().ok(),
            errors,
            warnings: self.warnings.iter().map(JsonEntry::warning).collect(),
        }
    }
}

/// The JSON form: `summary` only when `ok`.
#[derive(Serialize)]
struct JsonReport<'a> {
    file: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a Summary>,
    errors: Vec<JsonEntry<'a>>,
    warnings: Vec<JsonEntry<'a>>,
}

/// An error or a warning; `line` and `column` are null for a file that cannot be read,
/// and only warnings have a `kind`.
#[derive(Serialize)]
struct JsonEntry<'a> {
    line: Option<usize>,
    column: Option<usize>,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
}

impl<'a> JsonEntry<'a> {
    fn error(problem: &'a Problem) -> Self {
        JsonEntry {
            line: problem.location.as_ref().map(|l| l.line),
            column: problem.location.as_ref().map(|l| l.column),
            message: &problem.message,
            kind: None,
        }
    }

    fn warning(warning: &'a Warning) -> Self {
        JsonEntry {
            line: Some(warning.location.line),
            column: Some(warning.location.column),
            message: &warning.message,
            kind: Some(warning.kind.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        Summary {
            routes: 2,
            native_routes: 1,
            upstream_routes: 1,
            upstreams: 1,
            handlers: vec!["catalog.show_event".into()],
        }
    }

    fn location(line: usize, column: usize) -> Location {
        Location {
            file: PathBuf::from("routes.toml"),
            line,
            column,
        }
    }

    #[test]
    fn the_summary_reads_as_before() {
        assert_eq!(
            summary().to_string(),
            "2 routes (1 native, 1 upstream), 1 upstreams, 1 handlers (catalog.show_event)"
        );
    }

    #[test]
    fn json_of_a_file_that_passed_has_its_summary_and_warnings() {
        let warning = Warning {
            location: location(12, 8),
            kind: FindingKind::Shadowed,
            message: "never matches".into(),
        };
        let report = Report::passed(Path::new("routes.toml"), summary(), vec![warning]);
        let json = serde_json::to_value(report.json()).unwrap();
        assert_eq!(json["ok"], true);
        assert_eq!(json["summary"]["handlers"][0], "catalog.show_event");
        assert_eq!(json["errors"], serde_json::json!([]));
        assert_eq!(
            json["warnings"][0],
            serde_json::json!({"line": 12, "column": 8, "message": "never matches", "kind": "shadowed"})
        );
    }

    #[test]
    fn json_of_a_file_that_failed_has_no_summary() {
        let errors = vec![
            Problem {
                location: Some(location(3, 20)),
                message: "unknown upstream".into(),
            },
            Problem {
                location: None,
                message: "cannot read".into(),
            },
        ];
        let report = Report::failed(Path::new("routes.toml"), errors);
        let json = serde_json::to_value(report.json()).unwrap();
        assert_eq!(json["ok"], false);
        assert!(json.get("summary").is_none());
        assert_eq!(json["errors"][0]["line"], 3);
        assert_eq!(json["errors"][1]["line"], serde_json::Value::Null);
        assert!(json["errors"][0].get("kind").is_none());
    }
}
