//! Secrets rotated in Vault, applied to the running service without a restart.
//!
//! - `jwt_secret`: new tokens are signed with the new key; the superseded ones the Vault source
//!   still lists (its grace period) keep verifying, so tokens issued before stay valid until
//!   they expire.
//! - `bot_key_secret`: swapped; every bot key derived from the old one stops working at once
//!   (PROTOCOL.md §1). Bots already streaming keep their session.
//! - `master_key`: the open store keeps the keyring it opened with; a new master key is used
//!   after a restart (then `keys rewrap`), and the log says so.
//!
//! A rotated set that fails the strength checks in production is not applied: the service keeps
//! its current keys and logs an error naming the secret.

use std::sync::Arc;

use scribe_auth::{ExposeSecret as _, JwtKeys};
use scribe_secrets::{EnvSource, Mode, SecretName, Secrets, VaultSource};

/// Watches `vault` for new keys and applies them to `state`; registers the Vault status as the
/// `secrets` readiness check.
pub(super) fn spawn(
    vault: VaultSource,
    env: EnvSource,
    state: gateway::AppState,
    mode: Mode,
    at_start: &Secrets,
) {
    let status = vault.clone();
    state
        .readiness
        .add("secrets", Arc::new(move || status.status().ready));
    let started_with = at_start
        .get(SecretName::MasterKey)
        .map(|k| k.expose_secret().to_owned())
        .ok();
    vault.spawn_refresh();
    let mut changes = vault.subscribe();
    tokio::spawn(async move {
        while changes.changed().await.is_ok() {
            let version = *changes.borrow_and_update();
            match rotated(&vault, &env, mode) {
                Ok(secrets) => apply(&state, &secrets, version, started_with.as_deref()),
                Err(e) => tracing::error!(
                    version,
                    "not applying the secrets of Vault version {version}: {e:#}; the current keys stay in use"
                ),
            }
        }
    });
}

fn rotated(vault: &VaultSource, env: &EnvSource, mode: Mode) -> anyhow::Result<Secrets> {
    let secrets = Secrets::load(&[env, vault])?;
    secrets.validate(mode)?;
    Ok(secrets)
}

fn apply(state: &gateway::AppState, secrets: &Secrets, version: u64, started_with: Option<&str>) {
    let keys = secrets
        .get(SecretName::JwtSecret)
        .map_err(anyhow::Error::from)
        .and_then(|current| {
            JwtKeys::new(current, secrets.previous(SecretName::JwtSecret)).map_err(Into::into)
        });
    match keys {
        Ok(keys) => {
            let previous = keys.previous_count();
            state.tokens.replace_keys(keys);
            tracing::info!(
                version,
                previous_jwt_keys = previous,
                "secrets from Vault version {version} in use"
            );
        }
        Err(e) => tracing::error!(version, "cannot use the rotated jwt_secret: {e:#}"),
    }
    if let Ok(bot) = secrets.get(SecretName::BotKeySecret) {
        if bot.expose_secret() != state.bot_key_secret().expose_secret() {
            state.replace_bot_key_secret(bot.clone());
            tracing::warn!(
                version,
                "bot_key_secret was rotated: every bot key derived from the previous one is revoked"
            );
        }
    }
    let master = secrets
        .get(SecretName::MasterKey)
        .map(|k| k.expose_secret().to_owned())
        .ok();
    if master.as_deref() != started_with {
        tracing::warn!(
            version,
            "master_key changed in Vault: the store keeps the key it opened with until a restart; \
             restart, then run `nexus-scribe keys rewrap`"
        );
    }
}
