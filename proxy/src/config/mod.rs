//! Loading `routes.toml` into the model the server runs on.
//!
//! [`file`] is the file's shape, [`model`] checks it against the handler registry and
//! builds routes, upstreams and stores. Loading never panics on operator input: every
//! problem becomes a [`Diagnostic`] with its `file:line:column`, and all of them are
//! reported at once.

mod env;
mod error;
mod file;
mod model;

pub use error::{ConfigError, Diagnostic, Location};
pub use model::{AccessLogFormat, Config, TlsFiles, DEFAULT_PASS_THROUGH_MAX_BODY};

use std::path::Path;

use switchyard_handlers::Registry;

/// Reads, parses and checks the route file at `path`.
pub fn load(path: &Path, registry: &Registry) -> Result<Config, ConfigError> {
    let source = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    from_source(path, &source, registry)
}

/// Parses and checks route-file text; `path` is only used in messages.
pub fn from_source(path: &Path, source: &str, registry: &Registry) -> Result<Config, ConfigError> {
    let parsed: file::RouteFile = toml::from_str(source).map_err(|e| {
        let offset = e.span().map_or(0, |span| span.start);
        ConfigError::Invalid(vec![Diagnostic {
            location: Location::at(path, source, offset),
            message: e.message().trim().to_owned(),
        }])
    })?;
    model::build(path, source, parsed, registry)
}

#[cfg(test)]
mod tests;
