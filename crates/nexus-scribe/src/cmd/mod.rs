//! One module per subcommand; this one loads the configuration and dispatches.

pub(crate) mod bot;
mod config_check;
mod models;
mod transcribe;

use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::{Cli, Command, ConfigCommand};
use crate::config::{process_env, Config};

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(cli.global.config.as_deref(), &process_env())
        .context("invalid configuration")?;
    if let Some(dir) = cli.global.data_dir {
        config.data_dir = dir;
    }
    crate::logging::init(&config.logging);
    match cli.command {
        Command::Transcribe(args) => transcribe::run(&config, args),
        Command::Models(cmd) => models::run(&config, cmd),
        Command::Config(ConfigCommand::Check) => config_check::run(&config),
        Command::Bot(cmd) => bot::run(cmd, &process_env()),
    }
}
