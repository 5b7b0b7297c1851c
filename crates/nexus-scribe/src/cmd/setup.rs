//! Set-up commands (PROTOCOL.md §5): `admin create`, `bots create`, `meetings create`. They
//! open the same data folder as `serve` (the embedded store takes concurrent writers, so they
//! work while a server runs) and print one JSON object on stdout for scripts.

use std::io::Read as _;

use anyhow::{bail, Context as _};
use scribe_auth::{
    derive_bot_key, ExposeSecret, PasswordContext, PasswordHasher, PasswordPolicy, Role,
    SecretString,
};
use scribe_core::{OrgId, OrgScope};
use scribe_secrets::SecretName;
use transcript_storage::{NewMeeting, NewUser, Organisation, Store, StoreError};

use crate::cli::KeysCommand;
use crate::config::{Config, StorageBackend};

/// Longest password read from stdin.
const MAX_PASSWORD_BYTES: usize = 1024;

/// `admin create --email E [--org NAME]`: the password comes from stdin (first line).
pub async fn admin_create(config: &Config, email: &str, org: Option<&str>) -> anyhow::Result<()> {
    let email = email.trim();
    if !looks_like_email(email) {
        bail!("--email {email:?} is not an email address");
    }
    let password = read_password()?;
    let org_name = org.unwrap_or("default");
    PasswordPolicy::default()
        .check(
            &password,
            &PasswordContext {
                email: Some(email),
                other: &[org_name],
            },
        )
        .map_err(|e| anyhow::anyhow!("password refused: {e}"))?;
    let store = super::open_store(config, &super::store_secrets(config).await?).await?;
    let org = match store.find_organisation_by_name(org_name).await? {
        Some(o) => o,
        None => store
            .create_organisation(org_name)
            .await
            .with_context(|| format!("cannot create organisation {org_name:?}"))?,
    };
    let hash =
        tokio::task::spawn_blocking(move || PasswordHasher::new().and_then(|h| h.hash(&password)))
            .await??;
    let user = store
        .create_user(
            &OrgScope::for_org(org.id),
            NewUser {
                email: email.to_owned(),
                password_hash: hash.into_string(),
                role: Role::Admin.as_str().to_owned(),
            },
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                anyhow::anyhow!("a user with email {email:?} already exists")
            }
            other => anyhow::Error::new(other).context("cannot create the user"),
        })?;
    println!(
        "{}",
        serde_json::json!({ "user_id": user.id.to_string(), "org_id": org.id.to_string() })
    );
    Ok(())
}

/// `bots create --org ORG --name N`: prints the bot id and its API key (shown only now).
pub async fn bot_create(config: &Config, org: &str, name: &str) -> anyhow::Result<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        bail!("--name must be 1 to 200 characters");
    }
    let secrets = super::load_secrets(config).await?.secrets;
    let store = super::open_store(config, &secrets).await?;
    let org = find_org(&*store, org).await?;
    let secret = secrets.get(SecretName::BotKeySecret)?;
    let bot = store.create_bot(&OrgScope::for_org(org.id), name).await?;
    let key: SecretString = derive_bot_key(secret, bot.id);
    println!(
        "{}",
        serde_json::json!({ "bot_id": bot.id.to_string(), "api_key": key.expose_secret() })
    );
    Ok(())
}

/// `meetings create --org ORG --title T`.
pub async fn meeting_create(config: &Config, org: &str, title: &str) -> anyhow::Result<()> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 300 {
        bail!("--title must be 1 to 300 characters");
    }
    let store = super::open_store(config, &super::store_secrets(config).await?).await?;
    let org = find_org(&*store, org).await?;
    let meeting = store
        .create_meeting(
            &OrgScope::for_org(org.id),
            NewMeeting {
                title: title.to_owned(),
                created_by: None,
            },
        )
        .await?;
    println!(
        "{}",
        serde_json::json!({ "meeting_id": meeting.id.to_string() })
    );
    Ok(())
}

/// `keys rotate|reencrypt|rewrap`.
pub async fn keys(config: &Config, cmd: KeysCommand) -> anyhow::Result<std::process::ExitCode> {
    let store = super::open_store(config, &super::store_secrets(config).await?).await?;
    let out = match cmd {
        KeysCommand::Rotate { org } => {
            let org = find_org(&*store, &org).await?;
            let version = store.rotate_data_key(&OrgScope::for_org(org.id)).await?;
            serde_json::json!({ "org_id": org.id.to_string(), "version": version })
        }
        KeysCommand::Reencrypt { org } => {
            let org = find_org(&*store, &org).await?;
            let report = store.reencrypt(&OrgScope::for_org(org.id)).await?;
            let v = serde_json::json!({
                "org_id": org.id.to_string(),
                "resealed": report.resealed,
                "unreadable": report.unreadable,
            });
            println!("{v}");
            if report.unreadable > 0 {
                eprintln!(
                    "{} value(s) could not be read (tampered, damaged or under a master key \
                     this server lacks) and were left as they are; the server log names them",
                    report.unreadable
                );
                return Ok(std::process::ExitCode::FAILURE);
            }
            return Ok(std::process::ExitCode::SUCCESS);
        }
        KeysCommand::Rewrap => {
            serde_json::json!({ "rewrapped": store.rewrap_data_keys().await? })
        }
    };
    println!("{out}");
    Ok(std::process::ExitCode::SUCCESS)
}

/// `migrate`: applies pending migrations and says where the schema stands.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let (backend, version, newly_applied) = match config.storage.backend {
        StorageBackend::Embedded => {
            // Opening the embedded store migrates it.
            super::open_store(config, &super::store_secrets(config).await?).await?;
            (
                "embedded",
                transcript_storage::EmbeddedStore::schema_version(),
                None,
            )
        }
        StorageBackend::Postgres => {
            let secrets = super::store_secrets(config).await?;
            let options = super::postgres_options(config, &secrets);
            let status =
                transcript_storage::PostgresStore::migrate(&options, &super::keyring(&secrets)?)
                    .await
                    .with_context(|| {
                        format!("cannot migrate the store at {}", options.describe())
                    })?;
            ("postgres", status.applied, Some(status.newly_applied))
        }
    };
    println!(
        "{}",
        serde_json::json!({
            "backend": backend,
            "schema_version": version,
            "newly_applied": newly_applied,
        })
    );
    Ok(())
}

/// Backup and restore here cover the embedded store; PostgreSQL has its own tools.
fn embedded_only(config: &Config, what: &str) -> anyhow::Result<()> {
    if config.storage.backend == StorageBackend::Postgres {
        bail!(
            "`{what}` works on the embedded store; with storage.backend = \"postgres\" use \
             pg_dump / pg_restore (see docs/operations.md)"
        );
    }
    Ok(())
}

/// `backup --out FILE`: a consistent copy of the embedded store, taken beside a running server.
pub async fn backup(config: &Config, out: &std::path::Path) -> anyhow::Result<()> {
    embedded_only(config, "backup")?;
    if out.exists() {
        bail!(
            "{} already exists; a backup never overwrites a file",
            out.display()
        );
    }
    let keys = super::keyring(&super::store_secrets(config).await?)?;
    let store = transcript_storage::EmbeddedStore::open(&config.data_dir, &keys)
        .await
        .with_context(|| format!("cannot open the store in {}", config.data_dir.display()))?;
    let summary = store
        .backup(out)
        .await
        .with_context(|| format!("cannot write the backup {}", out.display()))?;
    println!("{}", summary_json(out, &summary));
    Ok(())
}

/// `restore FILE`: the backup becomes the data folder's store (the old one is kept aside).
pub async fn restore(config: &Config, file: &std::path::Path) -> anyhow::Result<()> {
    embedded_only(config, "restore")?;
    // The backup's data keys must open with this folder's master key (checked before anything
    // is replaced).
    let keys = super::keyring(&super::store_secrets(config).await?)?;
    let outcome = transcript_storage::restore_backup(&config.data_dir, file, &keys)
        .with_context(|| format!("cannot restore {}", file.display()))?;
    let mut v = summary_json(file, &outcome.summary);
    v["previous"] = outcome
        .previous
        .map_or(serde_json::Value::Null, |p| p.display().to_string().into());
    println!("{v}");
    Ok(())
}

fn summary_json(
    file: &std::path::Path,
    s: &transcript_storage::BackupSummary,
) -> serde_json::Value {
    serde_json::json!({
        "file": file.display().to_string(),
        "schema_version": s.schema_version,
        "organisations": s.organisations,
        "meetings": s.meetings,
        "segments": s.segments,
        "bytes": s.bytes,
    })
}

/// An organisation by id or name.
async fn find_org(store: &dyn Store, org: &str) -> anyhow::Result<Organisation> {
    if let Ok(id) = org.parse::<OrgId>() {
        return match store.get_organisation(id).await {
            Ok(o) => Ok(o),
            Err(StoreError::NotFound) => bail!("no organisation with id {org}"),
            Err(e) => Err(e.into()),
        };
    }
    store.find_organisation_by_name(org).await?.ok_or_else(|| {
        anyhow::anyhow!("no organisation named {org:?} (create one with `admin create --org`)")
    })
}

fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && s.len() <= 320
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The first line of stdin, without its line ending.
fn read_password() -> anyhow::Result<SecretString> {
    let mut raw = Vec::new();
    std::io::stdin()
        .take(MAX_PASSWORD_BYTES as u64 + 2)
        .read_to_end(&mut raw)
        .context("cannot read the password from stdin")?;
    let line_end = raw.iter().position(|&b| b == b'\n').unwrap_or(raw.len());
    raw.truncate(line_end);
    if raw.last() == Some(&b'\r') {
        raw.pop();
    }
    if raw.is_empty() {
        bail!("no password on stdin (pipe it in: `printf '%s\\n' \"$PASSWORD\" | nexus-scribe admin create …`)");
    }
    if raw.len() > MAX_PASSWORD_BYTES {
        bail!("password longer than {MAX_PASSWORD_BYTES} bytes");
    }
    let text = String::from_utf8(raw).map_err(|_| anyhow::anyhow!("the password is not UTF-8"))?;
    Ok(SecretString::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_for_shape() {
        assert!(looks_like_email("ada@example.org"));
        for bad in [
            "",
            "ada",
            "@example.org",
            "ada@example",
            "ada@.org",
            "a da@example.org",
        ] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }
}
