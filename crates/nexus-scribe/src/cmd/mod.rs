//! One module per subcommand; this one loads the configuration and dispatches.

pub(crate) mod bot;
mod config_check;
mod listen;
mod models;
mod rotation;
mod secrets_check;
mod serve;
mod setup;
mod tls;
mod transcribe;

use std::process::ExitCode;

use anyhow::Context as _;

use std::sync::Arc;

use crate::cli::{
    AdminCommand, BotsCommand, Cli, Command, ConfigCommand, MeetingsCommand, SecretsCommand,
    TlsCommand,
};
use crate::config::{process_env, Config, StorageBackend};

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(cli.global.config.as_deref(), &process_env())
        .context("invalid configuration")?;
    if let Some(dir) = cli.global.data_dir {
        config.data_dir = dir;
    }
    if let Some(url) = &cli.global.database_url {
        config = config
            .with_database_url(url)
            .context("invalid --database-url")?;
    }
    crate::logging::init(&config.logging);
    match cli.command {
        Command::Transcribe(args) => transcribe::run(&config, args),
        Command::Models(cmd) => models::run(&config, cmd),
        Command::Config(ConfigCommand::Check) => config_check::run(&config),
        Command::Secrets(SecretsCommand::Check) => block_on(secrets_check::run(&config))?,
        Command::Serve(args) => {
            block_on(serve::run(&config, args.listen))??;
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin(AdminCommand::Create { email, org }) => {
            block_on(setup::admin_create(&config, &email, org.as_deref()))??;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bots(BotsCommand::Create { org, name }) => {
            block_on(setup::bot_create(&config, &org, &name))??;
            Ok(ExitCode::SUCCESS)
        }
        Command::Meetings(MeetingsCommand::Create { org, title }) => {
            block_on(setup::meeting_create(&config, &org, &title))??;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bot(cmd) => bot::run(cmd, &process_env()),
        Command::Tls(TlsCommand::SelfSigned {
            out,
            hosts,
            days,
            force,
        }) => {
            let out = out.unwrap_or_else(|| config.data_dir.join("tls"));
            tls::self_signed(&out, &hosts, days, force)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { out } => {
            block_on(setup::backup(&config, &out))??;
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { file } => {
            block_on(setup::restore(&config, &file))??;
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys(cmd) => block_on(setup::keys(&config, cmd))?,
        Command::Migrate => {
            block_on(setup::migrate(&config))??;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs an async command on a multi-threaded runtime.
fn block_on<F: std::future::Future>(f: F) -> anyhow::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(rt.block_on(f))
}

/// The configured store: the embedded one in the data folder (created on first use) or
/// PostgreSQL (migrated on open unless `storage.migrate_on_start = false`), sealing sensitive
/// fields with the master key of `secrets`.
async fn open_store(
    config: &Config,
    secrets: &scribe_secrets::Secrets,
) -> anyhow::Result<Arc<dyn transcript_storage::Store>> {
    let keys = keyring(secrets)?;
    match config.storage.backend {
        StorageBackend::Embedded => {
            let store = transcript_storage::EmbeddedStore::open(&config.data_dir, &keys)
                .await
                .with_context(|| {
                    format!("cannot open the store in {}", config.data_dir.display())
                })?;
            Ok(Arc::new(store))
        }
        StorageBackend::Postgres => {
            let options = postgres_options(config, secrets);
            let store = transcript_storage::PostgresStore::connect(&options, &keys)
                .await
                .with_context(|| format!("cannot open the store at {}", options.describe()))?;
            Ok(Arc::new(store))
        }
    }
}

/// The secrets and the sources they came from (`serve` reads them again when Vault rotates).
struct LoadedSecrets {
    secrets: scribe_secrets::Secrets,
    env: scribe_secrets::EnvSource,
    vault: Option<scribe_secrets::VaultSource>,
}

/// The secrets, without `load_secrets`'s start-up strength check: the environment first, then
/// Vault when `[vault] enabled`, else `<data_dir>/secrets/secrets.toml` (generated with strong
/// random values on first use). Vault unreachable, sealed or refusing is an error.
async fn secret_sources(config: &Config) -> anyhow::Result<LoadedSecrets> {
    let env = scribe_secrets::EnvSource::from_vars(std::env::vars());
    if !config.vault.enabled {
        let secrets =
            scribe_secrets::Secrets::from_env_or_file(&env, &config.data_dir.join("secrets"))
                .context("cannot load secrets")?;
        return Ok(LoadedSecrets {
            secrets,
            env,
            vault: None,
        });
    }
    if run_mode() == scribe_secrets::Mode::Production && config.vault.plain_http_off_host() {
        anyhow::bail!(
            "vault.address {} is plain HTTP to another host, which production refuses (the \
             secrets would cross the network in clear): use https://, or a Vault agent on loopback",
            config.vault.address
        );
    }
    let vault = scribe_secrets::VaultSource::connect(config.vault.settings(jwt_grace()))
        .await
        .context("cannot load secrets from Vault")?;
    let unknown = vault.unknown_keys();
    if !unknown.is_empty() {
        tracing::warn!(keys = ?unknown, "the Vault secret has keys that name no secret; they are ignored");
    }
    let secrets = scribe_secrets::Secrets::load(&[&env, &vault]).context("cannot load secrets")?;
    Ok(LoadedSecrets {
        secrets,
        env,
        vault: Some(vault),
    })
}

/// The secrets alone (set-up commands).
async fn store_secrets(config: &Config) -> anyhow::Result<scribe_secrets::Secrets> {
    Ok(secret_sources(config).await?.secrets)
}

/// How long a superseded `jwt_secret` must keep verifying: the longest lifetime of a token
/// signed with it (refresh tokens), plus the verification leeway.
fn jwt_grace() -> std::time::Duration {
    let t = scribe_auth::TokenConfig::default();
    t.access_ttl.max(t.refresh_ttl).max(t.pre_mfa_ttl) + t.leeway
}

/// The keyring of encryption at rest: the `master_key` secret and any previous versions the
/// source still has (a rotation in progress).
fn keyring(secrets: &scribe_secrets::Secrets) -> anyhow::Result<transcript_storage::Keyring> {
    use scribe_secrets::{ExposeSecret as _, SecretName};
    let current = secrets.get(SecretName::MasterKey)?;
    let previous: Vec<&[u8]> = secrets
        .previous(SecretName::MasterKey)
        .iter()
        .map(|p| p.expose_secret().as_bytes())
        .collect();
    transcript_storage::Keyring::new(current.expose_secret().as_bytes(), &previous)
        .context("unusable master_key")
}

/// PostgreSQL connection options with the `database_password` secret, if one is set.
fn postgres_options(
    config: &Config,
    secrets: &scribe_secrets::Secrets,
) -> transcript_storage::PostgresOptions {
    let password = secrets
        .optional(scribe_secrets::SecretName::DatabasePassword)
        .map(|p| scribe_secrets::ExposeSecret::expose_secret(p).to_owned());
    config.postgres_options(password)
}

/// The secrets as `secret_sources` loads them (environment, then Vault or the secrets file),
/// checked: weak values stop production start-up and are warned about in development.
async fn load_secrets(config: &Config) -> anyhow::Result<LoadedSecrets> {
    let loaded = secret_sources(config).await?;
    for problem in loaded
        .secrets
        .validate(run_mode())
        .context("refusing to start with weak secrets")?
    {
        tracing::warn!("WEAK SECRET (allowed only in development): {problem}");
    }
    Ok(loaded)
}

/// Production or development checks, from `NEXUS_SCRIBE_ENV` (anything but development, dev,
/// test or local is production).
fn run_mode() -> scribe_secrets::Mode {
    scribe_secrets::Mode::from_env_value(std::env::var("NEXUS_SCRIBE_ENV").ok().as_deref())
}
