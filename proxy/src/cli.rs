//! The command line: `switchyard run` and `switchyard check`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
    Check(CheckArgs),
}

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

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Route file.
    #[arg(value_name = "FILE", default_value = "routes.toml")]
    pub file: PathBuf,
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
}
