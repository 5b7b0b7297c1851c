//! The PostgreSQL backend: for production and for several servers sharing one database.
//!
//! Connections come from a pool (deadpool) and every statement is prepared and cached per
//! connection; all values are bound parameters. Each organisation-scoped operation runs in a
//! transaction that first sets `nexus_scribe.org_id` from its [`OrgScope`], which arms the
//! schema's row-level-security policies: even a query that forgot its `org_id` condition would
//! see only that organisation's rows. The service must therefore connect as an ordinary role
//! (not a superuser, not BYPASSRLS); it warns at start-up when it does not.
//!
//! TLS to the database (rustls, certificate and host name verified) is chosen in
//! [`PostgresOptions::tls`]. The password, if the server wants one, comes from the secret
//! source, never from the URL.

mod access;
mod feed;
mod identity;
mod jobs;
mod keys;
mod meetings;
mod migrate;
mod segments;
mod sessions;
mod sql;
mod streams;
mod tickets;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Client, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use scribe_core::{
    BotId, InviteId, JobId, MeetingId, OrgId, OrgScope, SessionId, StreamId, UserId,
};
use tokio_postgres::config::{Host, SslMode};

use crate::change::Change;
use crate::crypto::Keyring;
use crate::error::{StoreError, StoreResult};
use crate::model::{
    AccessState, Bot, FinalRead, Invite, Job, JobUpdate, LoginCounters, LoginRecord, Meeting,
    MeetingGrant, MfaState, NewFinal, NewInvite, NewJob, NewMeeting, NewSession, NewStream,
    NewTicket, NewUser, OrgPolicy, OrgPolicyChange, Organisation, RedeemedTicket, ResumeTokenHash,
    Revocation, Rotation, RotationOutcome, Stream, User, UserChange,
};
use crate::sealing::ReencryptReport;
use crate::store::Store;

pub use self::migrate::SchemaStatus;

/// How the connection to PostgreSQL is protected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PostgresTls {
    /// Plain TCP (or a Unix socket): only for a database on the same host or a private link.
    #[default]
    Disable,
    /// TLS 1.2+ required; the server certificate must chain to `ca_file` (PEM) or, without
    /// one, to the system's trusted roots, and must name the host in the URL.
    VerifyFull { ca_file: Option<PathBuf> },
}

/// Where and how to connect.
#[derive(Clone)]
pub struct PostgresOptions {
    /// `postgres://USER@HOST:PORT/DATABASE` or the key-value form; must not carry a password.
    pub url: String,
    /// The role's password, from the secret source (never logged, never in the URL).
    pub password: Option<String>,
    pub tls: PostgresTls,
    /// Most connections held at once.
    pub pool_size: usize,
    /// Longest wait for a connection (from the pool or a new one) before failing with
    /// [`StoreError::Busy`].
    pub connect_timeout: Duration,
    /// Apply pending migrations when opening; when false, a database that is behind is
    /// refused with [`StoreError::SchemaBehind`].
    pub migrate: bool,
}

impl std::fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .field("tls", &self.tls)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("migrate", &self.migrate)
            .finish()
    }
}

impl PostgresOptions {
    /// Options for `url` with the defaults: no password, no TLS, 8 connections, 10 s
    /// connect timeout, migrations applied.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            password: None,
            tls: PostgresTls::Disable,
            pool_size: 8,
            connect_timeout: Duration::from_secs(10),
            migrate: true,
        }
    }

    /// Checks the URL without connecting (for `config check`).
    pub fn check(&self) -> StoreResult<()> {
        self.driver_config().map(|_| ())
    }

    /// The driver configuration, checked: a URL that does not parse or that carries a password
    /// is refused (the message never repeats the URL, which may hold one).
    fn driver_config(&self) -> StoreResult<tokio_postgres::Config> {
        let mut config = tokio_postgres::Config::from_str(&self.url).map_err(|_| {
            StoreError::Config("the PostgreSQL URL is not a valid connection string")
        })?;
        if config.get_password().is_some() {
            return Err(StoreError::Config(
                "the PostgreSQL URL must not contain a password; \
                 set the database_password secret instead",
            ));
        }
        if config.get_hosts().is_empty() {
            return Err(StoreError::Config("the PostgreSQL URL names no host"));
        }
        if config.get_dbname().is_none() {
            return Err(StoreError::Config("the PostgreSQL URL names no database"));
        }
        if let Some(password) = &self.password {
            config.password(password.as_bytes());
        }
        config.ssl_mode(match self.tls {
            PostgresTls::Disable => SslMode::Disable,
            PostgresTls::VerifyFull { .. } => SslMode::Require,
        });
        config.connect_timeout(self.connect_timeout);
        config.application_name("nexus-scribe");
        Ok(config)
    }

    /// Where the database is, for messages: host(s), port and database name, never the
    /// credentials.
    pub fn describe(&self) -> String {
        let Ok(config) = tokio_postgres::Config::from_str(&self.url) else {
            return "(unparsable URL)".into();
        };
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .map(|h| match h {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        let port = config.get_ports().first().copied().unwrap_or(5432);
        format!(
            "{}:{port}/{}",
            hosts.join(","),
            config.get_dbname().unwrap_or("?")
        )
    }
}

/// The PostgreSQL store.
pub struct PostgresStore {
    pool: Pool,
    describe: String,
    keys: Keyring,
    /// How the change-feed listener connects, and this handle's node id.
    listen: feed::ListenConfig,
    /// The change feed, started on the first [`Store::changes`] call.
    changes: std::sync::OnceLock<std::sync::Arc<tokio::sync::broadcast::Sender<Change>>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("database", &self.describe)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects, checks the schema (applying pending migrations when `options.migrate`) and
    /// warns when the role bypasses row-level security. `keys` seal and open the sensitive
    /// fields (every server on the database needs the same master key).
    pub async fn connect(options: &PostgresOptions, keys: &Keyring) -> StoreResult<Self> {
        let store = Self::connect_unchecked(options, keys).await?;
        let mut client = store.client().await?;
        migrate::migrate(&mut client, keys, options.migrate).await?;
        let bypass: bool = client
            .query_one(
                "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
                &[],
            )
            .await?
            .try_get(0)?;
        if bypass {
            tracing::warn!(
                database = %store.describe,
                "the PostgreSQL role is a superuser or has BYPASSRLS: row-level security \
                 (the second wall between organisations) is not in effect; connect as an \
                 ordinary role that owns the schema"
            );
        }
        Ok(store)
    }

    /// Connects without touching the schema (for `migrate`).
    async fn connect_unchecked(options: &PostgresOptions, keys: &Keyring) -> StoreResult<Self> {
        let config = options.driver_config()?;
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let tls = match &options.tls {
            PostgresTls::Disable => None,
            PostgresTls::VerifyFull { ca_file } => Some(tls::connector(ca_file.as_deref())?),
        };
        let listen = feed::ListenConfig {
            driver: config.clone(),
            tls: tls.clone(),
            node: uuid::Uuid::new_v4(),
            describe: options.describe(),
        };
        let manager = match tls {
            None => Manager::from_config(config, tokio_postgres::NoTls, manager_config),
            Some(tls) => Manager::from_config(config, tls, manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.connect_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|_| StoreError::Config("cannot build the PostgreSQL connection pool"))?;
        Ok(Self {
            pool,
            describe: options.describe(),
            keys: keys.clone(),
            listen,
            changes: std::sync::OnceLock::new(),
        })
    }

    /// Brings the schema up to this build's version (`nexus-scribe migrate`); `keys` seal
    /// what a database written before encryption holds.
    pub async fn migrate(options: &PostgresOptions, keys: &Keyring) -> StoreResult<SchemaStatus> {
        let store = Self::connect_unchecked(options, keys).await?;
        let mut client = store.client().await?;
        migrate::migrate(&mut client, keys, true).await
    }

    /// The schema version this build writes (the newest migration).
    pub fn schema_version() -> i64 {
        migrate::latest_version()
    }

    /// A pooled connection; a failure to connect says where and why (never with credentials).
    async fn client(&self) -> StoreResult<Client> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => connect_error(&self.describe, e),
            deadpool_postgres::PoolError::Timeout(_) => StoreError::Unavailable(format!(
                "no PostgreSQL connection to {} within the connect timeout",
                self.describe
            )),
            other => StoreError::from(other),
        })
    }
}

/// A connection failure as a message an operator can act on. The driver's text for network,
/// TLS and authentication failures names the cause (refused, timed out, certificate, password
/// authentication failed for user …) and never a password or data.
fn connect_error(describe: &str, e: tokio_postgres::Error) -> StoreError {
    let class = e.code().map(|c| &c.code()[..2]);
    match class {
        // 28: invalid authorization; 3D: no such database.
        None | Some("28" | "3D") => {
            let mut why = match e.as_db_error() {
                Some(db) => db.message().to_owned(),
                None => e.to_string(),
            };
            let mut source = std::error::Error::source(&e);
            while let Some(inner) = source {
                if e.as_db_error().is_none() {
                    why = format!("{why}: {inner}");
                }
                source = inner.source();
            }
            StoreError::Unavailable(format!("cannot connect to PostgreSQL at {describe}: {why}"))
        }
        Some(_) => StoreError::from(e),
    }
}

mod tls {
    //! rustls for the database connection (ring provider, TLS 1.2 and 1.3 only).

    use std::path::Path;
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    use rustls::RootCertStore;
    use tokio_postgres_rustls::MakeRustlsConnect;

    use crate::error::{StoreError, StoreResult};

    /// A connector trusting `ca_file` (PEM, one or more certificates) or the system roots.
    pub(super) fn connector(ca_file: Option<&Path>) -> StoreResult<MakeRustlsConnect> {
        let mut roots = RootCertStore::empty();
        match ca_file {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|_| {
                        StoreError::Config("storage.postgres_ca_file cannot be read as PEM")
                    })?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| {
                        StoreError::Config("storage.postgres_ca_file holds a malformed certificate")
                    })?;
                if certs.is_empty() {
                    return Err(StoreError::Config(
                        "storage.postgres_ca_file holds no certificate",
                    ));
                }
                for cert in certs {
                    roots.add(cert).map_err(|_| {
                        StoreError::Config("storage.postgres_ca_file holds an unusable certificate")
                    })?;
                }
            }
            None => {
                let native = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(native.certs);
                if roots.is_empty() {
                    return Err(StoreError::Config(
                        "no trusted CA certificates on this system; set storage.postgres_ca_file",
                    ));
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|_| StoreError::Config("cannot configure TLS for PostgreSQL"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }
}

/// Forwards each [`Store`] method to its query function on a pooled connection.
macro_rules! on_client {
    ($self:ident, $module:ident::$func:ident($($arg:expr),*)) => {{
        let mut client = $self.client().await?;
        $module::$func(&mut client $(, $arg)*).await
    }};
}

#[async_trait]
impl Store for PostgresStore {
    async fn create_organisation(&self, name: &str) -> StoreResult<Organisation> {
        on_client!(self, identity::create_organisation(&self.keys, name))
    }

    async fn get_organisation(&self, id: OrgId) -> StoreResult<Organisation> {
        on_client!(self, identity::get_organisation(id))
    }

    async fn find_organisation_by_name(&self, name: &str) -> StoreResult<Option<Organisation>> {
        on_client!(self, identity::find_organisation_by_name(name))
    }

    async fn find_login_by_email(&self, email: &str) -> StoreResult<Option<LoginRecord>> {
        on_client!(self, identity::find_login_by_email(&self.keys, email))
    }

    async fn find_bot_for_auth(&self, id: BotId) -> StoreResult<Option<Bot>> {
        on_client!(self, identity::find_bot_for_auth(id))
    }

    async fn create_user(&self, scope: &OrgScope, new: NewUser) -> StoreResult<User> {
        on_client!(self, identity::create_user(&self.keys, scope, new))
    }

    async fn get_login(&self, scope: &OrgScope, id: UserId) -> StoreResult<LoginRecord> {
        on_client!(self, identity::get_login(&self.keys, scope, id))
    }

    async fn create_bot(&self, scope: &OrgScope, name: &str) -> StoreResult<Bot> {
        on_client!(self, identity::create_bot(scope, name))
    }

    async fn get_bot(&self, scope: &OrgScope, id: BotId) -> StoreResult<Bot> {
        on_client!(self, identity::get_bot(scope, id))
    }

    async fn revoke_bot(&self, scope: &OrgScope, id: BotId) -> StoreResult<()> {
        on_client!(self, identity::revoke_bot(scope, id))
    }

    async fn is_bot_revoked(&self, scope: &OrgScope, id: BotId) -> StoreResult<bool> {
        Ok(self.get_bot(scope, id).await?.is_revoked())
    }

    async fn create_meeting(&self, scope: &OrgScope, new: NewMeeting) -> StoreResult<Meeting> {
        on_client!(self, meetings::create_meeting(&self.keys, scope, new))
    }

    async fn get_meeting(&self, scope: &OrgScope, id: MeetingId) -> StoreResult<Meeting> {
        on_client!(self, meetings::get_meeting(&self.keys, scope, id))
    }

    async fn list_meetings(&self, scope: &OrgScope) -> StoreResult<Vec<Meeting>> {
        on_client!(self, meetings::list_meetings(&self.keys, scope))
    }

    async fn delete_meeting(&self, scope: &OrgScope, id: MeetingId) -> StoreResult<()> {
        on_client!(self, meetings::delete_meeting(scope, id, self.listen.node))
    }

    async fn open_stream(&self, scope: &OrgScope, new: NewStream) -> StoreResult<Stream> {
        on_client!(self, streams::open_stream(scope, new))
    }

    async fn get_stream(&self, scope: &OrgScope, id: StreamId) -> StoreResult<Stream> {
        on_client!(self, streams::get_stream(scope, id))
    }

    async fn find_stream_by_token(
        &self,
        scope: &OrgScope,
        hash: &ResumeTokenHash,
    ) -> StoreResult<Option<Stream>> {
        on_client!(self, streams::find_stream_by_token(scope, *hash))
    }

    async fn ack_stream_audio(
        &self,
        scope: &OrgScope,
        id: StreamId,
        acked_audio_ms: u64,
    ) -> StoreResult<u64> {
        on_client!(self, streams::ack_stream_audio(scope, id, acked_audio_ms))
    }

    async fn close_stream(&self, scope: &OrgScope, id: StreamId) -> StoreResult<()> {
        on_client!(self, streams::close_stream(scope, id))
    }

    async fn append_final(&self, scope: &OrgScope, new: NewFinal) -> StoreResult<u64> {
        on_client!(
            self,
            segments::append_final(&self.keys, scope, new, self.listen.node)
        )
    }

    async fn allocate_seq(&self, scope: &OrgScope, meeting: MeetingId) -> StoreResult<u64> {
        on_client!(self, segments::allocate_seq(scope, meeting))
    }

    async fn list_finals_since(
        &self,
        scope: &OrgScope,
        meeting: MeetingId,
        after_seq: u64,
    ) -> StoreResult<Vec<FinalRead>> {
        on_client!(
            self,
            segments::list_finals_since(&self.keys, scope, meeting, after_seq)
        )
    }

    async fn create_job(&self, scope: &OrgScope, new: NewJob) -> StoreResult<Job> {
        on_client!(self, jobs::create_job(scope, new))
    }

    async fn get_job(&self, scope: &OrgScope, id: JobId) -> StoreResult<Job> {
        on_client!(self, jobs::get_job(scope, id))
    }

    async fn update_job(&self, scope: &OrgScope, id: JobId, update: JobUpdate) -> StoreResult<()> {
        on_client!(self, jobs::update_job(scope, id, update))
    }

    async fn unfinished_jobs(&self) -> StoreResult<Vec<Job>> {
        on_client!(self, jobs::unfinished_jobs())
    }

    async fn put_ticket(
        &self,
        scope: &OrgScope,
        ticket: NewTicket,
        now_ms: u64,
        max_per_user: usize,
    ) -> StoreResult<()> {
        on_client!(
            self,
            tickets::put_ticket(scope, ticket, now_ms, max_per_user)
        )
    }

    async fn take_ticket(&self, hash: &[u8; 32]) -> StoreResult<Option<RedeemedTicket>> {
        on_client!(self, tickets::take_ticket(*hash))
    }

    async fn set_login_counters(
        &self,
        scope: &OrgScope,
        user: UserId,
        counters: LoginCounters,
    ) -> StoreResult<()> {
        on_client!(self, sessions::set_login_counters(scope, user, counters))
    }

    async fn create_session(&self, scope: &OrgScope, new: NewSession) -> StoreResult<()> {
        on_client!(self, sessions::create_session(scope, new))
    }

    async fn rotate_session(
        &self,
        scope: &OrgScope,
        rotation: Rotation,
    ) -> StoreResult<RotationOutcome> {
        on_client!(self, sessions::rotate_session(scope, rotation))
    }

    async fn revoke_sessions(
        &self,
        scope: &OrgScope,
        which: Revocation,
        now_ms: u64,
    ) -> StoreResult<u64> {
        on_client!(self, sessions::revoke_sessions(scope, which, now_ms))
    }

    async fn deny_token(
        &self,
        scope: &OrgScope,
        hash: &[u8; 32],
        expires_at_ms: u64,
        now_ms: u64,
    ) -> StoreResult<()> {
        on_client!(
            self,
            sessions::deny_token(scope, *hash, expires_at_ms, now_ms)
        )
    }

    async fn access_state(
        &self,
        scope: &OrgScope,
        user: UserId,
        session: SessionId,
        token_hash: &[u8; 32],
        now_ms: u64,
    ) -> StoreResult<AccessState> {
        on_client!(
            self,
            sessions::access_state(scope, user, session, *token_hash, now_ms)
        )
    }

    async fn change_user(
        &self,
        scope: &OrgScope,
        user: UserId,
        change: UserChange,
        now_ms: u64,
    ) -> StoreResult<User> {
        on_client!(
            self,
            sessions::change_user(&self.keys, scope, user, change, now_ms)
        )
    }

    async fn list_users(&self, scope: &OrgScope) -> StoreResult<Vec<User>> {
        on_client!(self, sessions::list_users(&self.keys, scope))
    }

    async fn mfa_state(&self, scope: &OrgScope, user: UserId) -> StoreResult<MfaState> {
        on_client!(self, sessions::mfa_state(&self.keys, scope, user))
    }

    async fn set_mfa_secret(
        &self,
        scope: &OrgScope,
        user: UserId,
        secret: Option<String>,
    ) -> StoreResult<()> {
        on_client!(
            self,
            sessions::set_mfa_secret(&self.keys, scope, user, secret)
        )
    }

    async fn enable_mfa(
        &self,
        scope: &OrgScope,
        user: UserId,
        step: u64,
        backup_codes: Vec<[u8; 32]>,
    ) -> StoreResult<()> {
        on_client!(self, sessions::enable_mfa(scope, user, step, backup_codes))
    }

    async fn claim_totp_step(
        &self,
        scope: &OrgScope,
        user: UserId,
        step: u64,
    ) -> StoreResult<bool> {
        on_client!(self, sessions::claim_totp_step(scope, user, step))
    }

    async fn use_backup_code(
        &self,
        scope: &OrgScope,
        user: UserId,
        hash: &[u8; 32],
        now_ms: u64,
    ) -> StoreResult<bool> {
        on_client!(self, sessions::use_backup_code(scope, user, *hash, now_ms))
    }

    async fn org_policy(&self, scope: &OrgScope) -> StoreResult<OrgPolicy> {
        on_client!(self, access::org_policy(scope))
    }

    async fn set_org_policy(
        &self,
        scope: &OrgScope,
        change: OrgPolicyChange,
    ) -> StoreResult<OrgPolicy> {
        on_client!(self, access::set_org_policy(scope, change))
    }

    async fn meeting_access(
        &self,
        scope: &OrgScope,
        meeting: MeetingId,
        user: UserId,
    ) -> StoreResult<(Meeting, Option<String>)> {
        on_client!(
            self,
            access::meeting_access(&self.keys, scope, meeting, user)
        )
    }

    async fn set_meeting_grant(
        &self,
        scope: &OrgScope,
        meeting: MeetingId,
        user: UserId,
        permission: Option<String>,
    ) -> StoreResult<()> {
        on_client!(
            self,
            access::set_meeting_grant(scope, meeting, user, permission)
        )
    }

    async fn list_meeting_grants(
        &self,
        scope: &OrgScope,
        meeting: MeetingId,
    ) -> StoreResult<Vec<MeetingGrant>> {
        on_client!(self, access::list_meeting_grants(scope, meeting))
    }

    async fn list_granted_meetings(
        &self,
        scope: &OrgScope,
        user: UserId,
    ) -> StoreResult<Vec<Meeting>> {
        on_client!(self, access::list_granted_meetings(&self.keys, scope, user))
    }

    async fn create_invite(&self, scope: &OrgScope, new: NewInvite) -> StoreResult<Invite> {
        on_client!(self, access::create_invite(&self.keys, scope, new))
    }

    async fn list_invites(&self, scope: &OrgScope, now_ms: u64) -> StoreResult<Vec<Invite>> {
        on_client!(self, access::list_invites(scope, now_ms))
    }

    async fn revoke_invite(&self, scope: &OrgScope, id: InviteId) -> StoreResult<()> {
        on_client!(self, access::revoke_invite(scope, id))
    }

    async fn find_invite(
        &self,
        hash: &[u8; 32],
        email: &str,
        now_ms: u64,
    ) -> StoreResult<Option<Invite>> {
        on_client!(self, access::find_invite(&self.keys, hash, email, now_ms))
    }

    async fn accept_invite(
        &self,
        invite: &Invite,
        hash: &[u8; 32],
        email: &str,
        password_hash: String,
        now_ms: u64,
    ) -> StoreResult<User> {
        on_client!(
            self,
            access::accept_invite(&self.keys, invite, hash, email, password_hash, now_ms)
        )
    }

    async fn set_integration(
        &self,
        scope: &OrgScope,
        name: &str,
        value: Option<String>,
    ) -> StoreResult<()> {
        on_client!(
            self,
            access::set_integration(&self.keys, scope, name, value)
        )
    }

    async fn integration(&self, scope: &OrgScope, name: &str) -> StoreResult<Option<String>> {
        on_client!(self, access::integration(&self.keys, scope, name))
    }

    async fn integration_names(&self, scope: &OrgScope) -> StoreResult<Vec<String>> {
        on_client!(self, access::integration_names(scope))
    }

    async fn has_users(&self) -> StoreResult<bool> {
        on_client!(self, access::has_users())
    }

    async fn rotate_data_key(&self, scope: &OrgScope) -> StoreResult<u32> {
        on_client!(self, keys::rotate(&self.keys, scope))
    }

    async fn reencrypt(&self, scope: &OrgScope) -> StoreResult<ReencryptReport> {
        on_client!(self, keys::reencrypt_org(&self.keys, scope))
    }

    async fn rewrap_data_keys(&self) -> StoreResult<u64> {
        on_client!(self, keys::rewrap_all(&self.keys))
    }

    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Change>> {
        let tx = self
            .changes
            .get_or_init(|| feed::start(self.listen.clone()));
        Some(tx.subscribe())
    }
}
