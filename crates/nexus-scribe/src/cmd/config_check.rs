//! `config check`: the configuration loaded (or the load error, reported by the caller).

use std::process::ExitCode;

use anyhow::Context as _;

use crate::config::Config;

pub fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let effective = toml::to_string_pretty(config).context("rendering the configuration")?;
    println!("# configuration is valid; effective settings:\n{effective}");
    Ok(ExitCode::SUCCESS)
}
