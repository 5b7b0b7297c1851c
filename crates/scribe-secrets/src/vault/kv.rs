//! Reading the service's KV v2 secret: its metadata, the versions it needs, and the snapshot
//! built from them (current values, plus the earlier values still to be accepted).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use vaultrs::api::kv2::requests::ReadSecretRequest;
use vaultrs::client::VaultClient;

use super::session::VaultProblem;
use crate::name::SecretName;

/// How many versions back a snapshot looks for previous values.
pub(crate) const MAX_VERSIONS_BACK: u64 = 16;

/// One version's values, by key.
pub(crate) type VersionData = BTreeMap<String, SecretString>;

/// What the metadata endpoint says about each version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Metadata {
    pub current_version: u64,
    pub versions: BTreeMap<u64, VersionMeta>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VersionMeta {
    /// When the version was written; `None` when Vault's time could not be read.
    pub created: Option<OffsetDateTime>,
    /// Neither deleted nor destroyed.
    pub live: bool,
}

/// The values a [`super::VaultSource`] serves.
#[derive(Default)]
pub(crate) struct Snapshot {
    pub version: u64,
    pub values: BTreeMap<SecretName, SecretString>,
    pub previous: BTreeMap<SecretName, Vec<SecretString>>,
    /// Keys of the secret that name no known secret (typos), for a warning.
    pub unknown_keys: Vec<String>,
}

impl Snapshot {
    /// What a change of keys would be noticed by: the version and how many previous values
    /// each secret has (a superseded JWT key leaving its grace period changes the latter).
    pub fn shape(&self) -> (u64, Vec<(SecretName, usize)>) {
        (
            self.version,
            self.previous.iter().map(|(n, p)| (*n, p.len())).collect(),
        )
    }
}

pub(crate) async fn read_metadata(
    client: &VaultClient,
    mount: &str,
    path: &str,
) -> Result<Metadata, VaultProblem> {
    let what = format!("{mount}/metadata/{path}");
    let meta = vaultrs::kv2::read_metadata(client, mount, path)
        .await
        .map_err(|e| VaultProblem::from_client(e, &what))?;
    let mut versions = BTreeMap::new();
    for (number, v) in meta.versions {
        let Ok(number) = number.parse::<u64>() else {
            return Err(VaultProblem::Invalid(format!(
                "{what}: version {number:?} is not a number"
            )));
        };
        versions.insert(
            number,
            VersionMeta {
                created: OffsetDateTime::parse(&v.created_time, &Rfc3339).ok(),
                live: !v.destroyed && v.deletion_time.is_empty(),
            },
        );
    }
    Ok(Metadata {
        current_version: meta.current_version,
        versions,
    })
}

/// One version's values. `Ok(None)`: the version is deleted or destroyed (Vault answers 404).
pub(crate) async fn read_version(
    client: &VaultClient,
    mount: &str,
    path: &str,
    version: u64,
) -> Result<Option<VersionData>, VaultProblem> {
    let what = format!("{mount}/data/{path}");
    let request = ReadSecretRequest::builder()
        .mount(mount)
        .path(path)
        .version(Some(version))
        .build()
        .map_err(|e| VaultProblem::Invalid(format!("{what}: {e}")))?;
    let read = match vaultrs::api::exec_with_result(client, request).await {
        Ok(read) => read,
        Err(e) => {
            return match VaultProblem::from_client(e, &what) {
                VaultProblem::NotFound(_) => Ok(None),
                other => Err(other),
            }
        }
    };
    let serde_json::Value::Object(map) = read.data else {
        return Ok(None);
    };
    let mut data = BTreeMap::new();
    for (key, value) in map {
        let serde_json::Value::String(value) = value else {
            return Err(VaultProblem::Invalid(format!(
                "{what} version {version}: `{key}` must be a string"
            )));
        };
        data.insert(key, SecretString::from(value));
    }
    Ok(Some(data))
}

/// The versions a snapshot needs: the current one and the live ones up to
/// [`MAX_VERSIONS_BACK`] before it, newest first.
pub(crate) fn wanted_versions(meta: &Metadata) -> Vec<u64> {
    let current = meta.current_version;
    let oldest = current.saturating_sub(MAX_VERSIONS_BACK).max(1);
    (oldest..=current)
        .rev()
        .filter(|v| *v == current || meta.versions.get(v).is_some_and(|m| m.live))
        .collect()
}

/// Builds the snapshot from the metadata and the versions read (`data[v]`, `None` where Vault
/// had nothing). Previous values, newest first, differing from the current one and each other:
/// `jwt_secret` from versions superseded less than `jwt_grace` before `now`; `master_key` from
/// every live version; none for the others.
pub(crate) fn snapshot(
    meta: &Metadata,
    data: &BTreeMap<u64, Arc<VersionData>>,
    now: OffsetDateTime,
    jwt_grace: Duration,
    what: &str,
) -> Result<Snapshot, VaultProblem> {
    let current = data.get(&meta.current_version).ok_or_else(|| {
        VaultProblem::NotFound(format!(
            "{what} (version {} is deleted or destroyed)",
            meta.current_version
        ))
    })?;
    let mut snapshot = Snapshot {
        version: meta.current_version,
        ..Snapshot::default()
    };
    for (key, value) in current.iter() {
        match key.parse::<SecretName>() {
            Ok(name) => {
                snapshot.values.insert(name, value.clone());
            }
            Err(()) => snapshot.unknown_keys.push(key.clone()),
        }
    }
    for version in wanted_versions(meta).into_iter().skip(1) {
        let Some(values) = data.get(&version) else {
            continue;
        };
        let superseded = meta
            .versions
            .range(version + 1..)
            .next()
            .and_then(|(_, m)| m.created);
        for (name, keep) in [
            (
                SecretName::JwtSecret,
                superseded.is_some_and(|at| now - at < jwt_grace),
            ),
            (SecretName::MasterKey, true),
        ] {
            if !keep {
                continue;
            }
            let Some(value) = values.get(name.as_str()) else {
                continue;
            };
            let seen = snapshot
                .values
                .get(&name)
                .into_iter()
                .chain(snapshot.previous.get(&name).into_iter().flatten())
                .any(|v| v.expose_secret() == value.expose_secret());
            if !seen {
                snapshot
                    .previous
                    .entry(name)
                    .or_default()
                    .push(value.clone());
            }
        }
    }
    Ok(snapshot)
}
