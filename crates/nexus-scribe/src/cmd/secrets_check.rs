//! `secrets check`: which secrets come from where (environment, Vault or the secrets file), how
//! many earlier versions are still accepted, and what the strength checks say — never a value.
//! In production (`NEXUS_SCRIBE_ENV`) a finding exits 1, as `serve` would refuse to start. Like
//! `serve`, it generates the secrets file on a data folder that has none (without Vault), and
//! fails when Vault is enabled but cannot be read.

use std::process::ExitCode;

use scribe_secrets::{Mode, SecretProblems, SecretsError};
use serde_json::json;

use crate::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let loaded = super::secret_sources(config).await?;
    let secrets = loaded.secrets;
    // Development mode reports findings instead of failing on them; an empty value fails in
    // every mode, with the findings.
    let problems = match secrets.validate(Mode::Development) {
        Ok(problems) => problems,
        Err(SecretsError::Weak(SecretProblems(problems))) => problems,
        Err(other) => return Err(other.into()),
    };
    let mode = super::run_mode();
    let report: Vec<serde_json::Value> = secrets
        .report()
        .into_iter()
        .map(|r| {
            let findings: Vec<String> = problems
                .iter()
                .filter(|p| p.name == r.name)
                .map(|p| p.weakness.to_string())
                .collect();
            json!({
                "name": r.name.as_str(),
                "source": r.origin.to_string(),
                "previous_versions": r.previous_versions,
                "check": if findings.is_empty() { "ok".to_owned() } else { findings.join("; ") },
            })
        })
        .collect();
    let production = mode == Mode::Production;
    let vault = loaded.vault.as_ref().map(|v| {
        let settings = v.settings();
        json!({
            "address": settings.address,
            "secret": format!("{}/data/{}", settings.mount, settings.path),
            "auth_method": settings.auth.method(),
            "version": v.status().version,
            "cache_ttl_secs": settings.cache_ttl.as_secs(),
            "ignored_keys": v.unknown_keys(),
        })
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "mode": if production { "production" } else { "development" },
            "vault": vault,
            "secrets": report,
        }))?
    );
    if production && !problems.is_empty() {
        eprintln!(
            "{} secret(s) fail the production checks; `serve` would refuse to start",
            problems.len()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
