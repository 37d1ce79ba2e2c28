//! Errors in a route file, each with the file, line and column it is about.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A position in a route file, printed as `file:line:column`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl Location {
    /// The position of byte `offset` in `source`; lines and columns count from 1, and
    /// columns count characters.
    pub fn at(file: &Path, source: &str, offset: usize) -> Self {
        let before = &source[..offset.min(source.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Location {
            file: file.to_owned(),
            line,
            column,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// One thing wrong with a route file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub location: Location,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Why a route file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
}

fn render(diagnostics: &[Diagnostic]) -> String {
    let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// Collects diagnostics while a file is checked, so one run reports every problem.
pub struct Diagnostics<'a> {
    file: &'a Path,
    source: &'a str,
    found: Vec<Diagnostic>,
}

impl<'a> Diagnostics<'a> {
    pub fn new(file: &'a Path, source: &'a str) -> Self {
        Diagnostics {
            file,
            source,
            found: Vec::new(),
        }
    }

    /// Records a problem at byte range `span` of the file.
    pub fn report(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.found.push(Diagnostic {
            location: Location::at(self.file, self.source, span.start),
            message: message.into(),
        });
    }

    /// `Ok` when nothing was reported.
    pub fn finish(self) -> Result<(), ConfigError> {
        if self.found.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(self.found))
        }
    }

    /// The text of the file being checked.
    pub fn source(&self) -> &'a str {
        self.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_count_lines_and_characters_from_one() {
        let source = "a = 1\nbé = \"x\"\n";
        let file = Path::new("routes.toml");
        assert_eq!(Location::at(file, source, 0).to_string(), "routes.toml:1:1");
        let offset = source.find('"').unwrap();
        assert_eq!(
            Location::at(file, source, offset).to_string(),
            "routes.toml:2:6"
        );
    }
}
