//! [`VaultSource`]: the cached secrets, the background refresh, and the status `/readyz` reports.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use secrecy::SecretString;
use time::OffsetDateTime;
use tokio::sync::{watch, Mutex};
use tokio::time::Instant;

use super::kv::{self, Snapshot, VersionData};
use super::session::{backoff, Session, VaultProblem};
use super::settings::VaultSettings;
use crate::error::SecretsError;
use crate::name::{SecretName, SecretOrigin};
use crate::source::SecretSource;

/// Whether the last contact with Vault worked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultStatus {
    /// The last read (or token renewal) succeeded.
    pub ready: bool,
    /// What failed last, when not ready (no secret in it).
    pub problem: Option<String>,
    /// The KV version being served.
    pub version: u64,
}

/// Secrets from one KV v2 secret in Vault, cached. Lookups ([`SecretSource`]) read the cache and
/// never wait on the network; [`VaultSource::spawn_refresh`] keeps it fresh.
#[derive(Clone)]
pub struct VaultSource {
    shared: Arc<Shared>,
}

struct Shared {
    settings: VaultSettings,
    snapshot: RwLock<Arc<Snapshot>>,
    status: RwLock<VaultStatus>,
    changes: watch::Sender<u64>,
    conn: Mutex<Conn>,
}

/// The signed-in session and the versions already read (a version's values never change).
struct Conn {
    session: Session,
    versions: BTreeMap<u64, Arc<VersionData>>,
}

impl VaultSource {
    /// Signs in and reads the secret. Any failure here (Vault unreachable, sealed, a refused
    /// login, no secret at the path) is an error: with nothing cached there is nothing to serve.
    pub async fn connect(settings: VaultSettings) -> Result<Self, SecretsError> {
        let fail = |problem: VaultProblem| SecretsError::Vault {
            at: settings.describe(),
            problem,
        };
        let session = Session::login(&settings).await.map_err(fail)?;
        let mut conn = Conn {
            session,
            versions: BTreeMap::new(),
        };
        let snapshot = read(&settings, &mut conn).await.map_err(fail)?;
        let version = snapshot.version;
        let (changes, _) = watch::channel(version);
        Ok(Self {
            shared: Arc::new(Shared {
                snapshot: RwLock::new(Arc::new(snapshot)),
                status: RwLock::new(VaultStatus {
                    ready: true,
                    problem: None,
                    version,
                }),
                changes,
                conn: Mutex::new(conn),
                settings,
            }),
        })
    }

    /// The connection settings.
    pub fn settings(&self) -> &VaultSettings {
        &self.shared.settings
    }

    /// Whether the last contact with Vault worked, and the version served.
    pub fn status(&self) -> VaultStatus {
        self.shared
            .status
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Announces the KV version after every change of the served keys (a new version, or a
    /// superseded key leaving its grace period).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.changes.subscribe()
    }

    /// Keys of the secret that name no known secret (a typo would otherwise go unnoticed).
    pub fn unknown_keys(&self) -> Vec<String> {
        self.current().unknown_keys.clone()
    }

    /// Reads the secret now (signing in again if the token stopped working). On success the
    /// cache is replaced and `Ok(true)` means the served keys changed; on failure the cache is
    /// kept and the status turns not ready.
    pub async fn refresh(&self) -> Result<bool, VaultProblem> {
        let mut conn = self.shared.conn.lock().await;
        let result = read(&self.shared.settings, &mut conn).await;
        drop(conn);
        match result {
            Ok(snapshot) => {
                let changed = snapshot.shape() != self.current().shape();
                let version = snapshot.version;
                if !snapshot.unknown_keys.is_empty() && changed {
                    tracing::warn!(
                        target: "scribe_secrets::vault",
                        keys = ?snapshot.unknown_keys,
                        "the Vault secret has keys that name no secret; they are ignored"
                    );
                }
                *self
                    .shared
                    .snapshot
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Arc::new(snapshot);
                self.set_status(Ok(version));
                if changed {
                    self.shared.changes.send_replace(version);
                }
                Ok(changed)
            }
            Err(problem) => {
                self.set_status(Err(&problem));
                Err(problem)
            }
        }
    }

    /// Keeps the cache fresh until the returned task is aborted: renews the token at 2/3 of its
    /// lease (logging in again when that fails), re-reads every `cache_ttl`, and after a failure
    /// retries with backoff (1 s doubling to 30 s, never later than the TTL) while serving the
    /// cache. Problems are logged once per change of problem, without secrets.
    pub fn spawn_refresh(&self) -> tokio::task::JoinHandle<()> {
        let source = self.clone();
        tokio::spawn(async move { source.refresh_loop().await })
    }

    async fn refresh_loop(&self) {
        let ttl = self.shared.settings.cache_ttl;
        let mut next_read = Instant::now() + ttl;
        let mut read_failures = 0u32;
        let mut last_problem: Option<String> = None;
        loop {
            let renew_at = self.shared.conn.lock().await.session.renew_at();
            let wake = renew_at.map_or(next_read, |r| r.min(next_read));
            tokio::time::sleep_until(wake).await;
            let now = Instant::now();
            let mut outcome: Result<(), VaultProblem> = Ok(());
            if renew_at.is_some_and(|r| r <= now) {
                let mut conn = self.shared.conn.lock().await;
                if let Err(problem) = conn.session.renew_or_login(&self.shared.settings).await {
                    drop(conn);
                    self.set_status(Err(&problem));
                    outcome = Err(problem);
                }
            }
            if next_read <= now {
                match self.refresh().await {
                    Ok(changed) => {
                        read_failures = 0;
                        next_read = Instant::now() + ttl;
                        if changed {
                            tracing::info!(
                                target: "scribe_secrets::vault",
                                version = self.status().version,
                                "the secrets from Vault changed"
                            );
                        }
                    }
                    Err(problem) => {
                        read_failures = read_failures.saturating_add(1);
                        next_read = Instant::now() + backoff(read_failures).min(ttl);
                        outcome = Err(problem);
                    }
                }
            }
            let problem = outcome.err().map(|p| p.to_string());
            if problem != last_problem {
                match &problem {
                    Some(p) => tracing::warn!(
                        target: "scribe_secrets::vault",
                        "Vault: {p}; serving the cached secrets (not ready)"
                    ),
                    None => {
                        tracing::info!(target: "scribe_secrets::vault", "Vault reachable again; ready")
                    }
                }
                last_problem = problem;
            }
        }
    }

    fn current(&self) -> Arc<Snapshot> {
        Arc::clone(
            &self
                .shared
                .snapshot
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    fn set_status(&self, outcome: Result<u64, &VaultProblem>) {
        let mut status = self
            .shared
            .status
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match outcome {
            Ok(version) => {
                *status = VaultStatus {
                    ready: true,
                    problem: None,
                    version,
                }
            }
            Err(problem) => {
                status.ready = false;
                status.problem = Some(problem.to_string());
            }
        }
    }
}

/// Reads metadata and the versions not yet cached, and builds the snapshot. A 403 (the token
/// expired or was revoked) leads to one fresh login and a second attempt.
async fn read(settings: &VaultSettings, conn: &mut Conn) -> Result<Snapshot, VaultProblem> {
    match read_once(settings, conn).await {
        Err(problem) if problem.is_denied() => {
            conn.session.authenticate(settings).await?;
            read_once(settings, conn).await
        }
        other => other,
    }
}

async fn read_once(settings: &VaultSettings, conn: &mut Conn) -> Result<Snapshot, VaultProblem> {
    let client = conn.session.client();
    let meta = kv::read_metadata(client, &settings.mount, &settings.path).await?;
    let wanted = kv::wanted_versions(&meta);
    for &version in &wanted {
        if conn.versions.contains_key(&version) {
            continue;
        }
        if let Some(data) =
            kv::read_version(client, &settings.mount, &settings.path, version).await?
        {
            conn.versions.insert(version, Arc::new(data));
        }
    }
    conn.versions.retain(|v, _| wanted.contains(v));
    kv::snapshot(
        &meta,
        &conn.versions,
        OffsetDateTime::now_utc(),
        settings.jwt_grace,
        &settings.describe(),
    )
}

impl SecretSource for VaultSource {
    fn describe(&self) -> String {
        format!("Vault {}", self.shared.settings.describe())
    }

    fn get(&self, name: SecretName) -> Result<Option<SecretString>, SecretsError> {
        Ok(self.current().values.get(&name).cloned())
    }

    fn origin(&self, _name: SecretName) -> SecretOrigin {
        SecretOrigin::Other(format!(
            "Vault {} (version {})",
            self.shared.settings.describe(),
            self.current().version
        ))
    }

    fn previous(&self, name: SecretName) -> Result<Vec<SecretString>, SecretsError> {
        Ok(self
            .current()
            .previous
            .get(&name)
            .cloned()
            .unwrap_or_default())
    }
}

impl fmt::Debug for VaultSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultSource")
            .field("at", &self.shared.settings.describe())
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}
