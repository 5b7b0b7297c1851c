//! The embedded backend: one SQLite database in the data folder, no server to install.
//!
//! Several processes may use one folder at once (a `serve` plus the set-up commands): SQLite in
//! WAL mode lets readers run beside the one writer, and file locks order writers across
//! processes. Every write that reads before it writes runs in `BEGIN IMMEDIATE`, so it takes
//! the write lock up front and waits (up to the busy timeout) instead of failing half-way.
//! The folder must be on a local file system (WAL's shared memory does not work over NFS).
//!
//! Per connection: `synchronous = FULL` (a committed final survives power loss, not only a
//! crash), `foreign_keys = ON` (the `(org_id, id)` references and cascades), `secure_delete =
//! ON` (deleted transcript text is overwritten in the database file rather than left in free
//! pages; the WAL holds old page images only until the next checkpoint).
//!
//! Encryption at rest: the query modules seal the columns marked "sensitive" in the migrations
//! before binding them and open them after reading, with the organisation's data key
//! (`org_keys`, wrapped by the master key; see `crypto`).

mod access;
pub(crate) mod backup;
mod files;
mod identity;
mod jobs;
mod keys;
mod meetings;
mod migrate;
mod pool;
mod segments;
mod sessions;
mod sql;
mod streams;
mod tickets;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use scribe_core::{
    BotId, InviteId, JobId, MeetingId, OrgId, OrgScope, SessionId, StreamId, UserId,
};

use self::pool::Pool;
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

pub use self::files::EMBEDDED_DB_FILE;

/// Tuning of an [`EmbeddedStore`].
#[derive(Clone, Debug)]
pub struct EmbeddedOptions {
    /// Connections (and so blocking threads) in use at once. Readers run in parallel; writers
    /// take turns whatever this is.
    pub pool_size: usize,
    /// How long a statement waits for another connection or process to release the lock
    /// before failing with [`StoreError::Busy`].
    pub busy_timeout: Duration,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            pool_size: 4,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The embedded store on one data folder.
pub struct EmbeddedStore {
    pool: Pool,
    path: PathBuf,
    keys: Keyring,
    /// Shared lock on the folder's [`backup::LOCK_FILE`] while the store is open: a restore
    /// waits for every user to close it.
    _lock: std::fs::File,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `dir` with default options and applies any
    /// pending migrations. Safe while other processes have the same folder open. `keys` seal
    /// and open the sensitive fields (every process on the folder needs the same master key).
    pub async fn open(dir: impl AsRef<Path>, keys: &Keyring) -> StoreResult<Self> {
        Self::open_with(dir, keys, EmbeddedOptions::default()).await
    }

    /// [`open`](Self::open) with explicit options.
    pub async fn open_with(
        dir: impl AsRef<Path>,
        keys: &Keyring,
        options: EmbeddedOptions,
    ) -> StoreResult<Self> {
        let dir = dir.as_ref().to_owned();
        let (path, lock) = tokio::task::spawn_blocking(move || -> StoreResult<_> {
            let path = files::prepare(&dir)?;
            let lock = backup::lock_shared(&dir)?;
            Ok((path, lock))
        })
        .await
        .map_err(|_| StoreError::Backend("storage task failed".into()))??;
        let pool = Pool::new(path.clone(), options.pool_size, options.busy_timeout);
        let migrate_keys = keys.clone();
        pool.run(move |c| migrate::migrate(c, &migrate_keys))
            .await?;
        Ok(Self {
            pool,
            path,
            keys: keys.clone(),
            _lock: lock,
        })
    }

    /// The database file.
    pub fn database_path(&self) -> &Path {
        &self.path
    }

    /// Writes a consistent, compacted copy of the database to `dest` (which must not exist),
    /// owner-only, while the store stays in use; checks it before it takes the final name.
    pub async fn backup(&self, dest: &Path) -> StoreResult<backup::BackupSummary> {
        let (dest, keys) = (dest.to_owned(), self.keys.clone());
        self.pool
            .run(move |c| backup::write_backup(c, &keys, &dest))
            .await
    }

    /// The schema version this build writes (the newest migration).
    pub fn schema_version() -> i64 {
        migrate::latest_version()
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn create_organisation(&self, name: &str) -> StoreResult<Organisation> {
        let name = name.to_owned();
        let keys = self.keys.clone();
        self.pool
            .run(move |c| identity::create_organisation(c, &keys, &name))
            .await
    }

    async fn get_organisation(&self, id: OrgId) -> StoreResult<Organisation> {
        self.pool
            .run(move |c| identity::get_organisation(c, id))
            .await
    }

    async fn find_organisation_by_name(&self, name: &str) -> StoreResult<Option<Organisation>> {
        let name = name.to_owned();
        self.pool
            .run(move |c| identity::find_organisation_by_name(c, &name))
            .await
    }

    async fn find_login_by_email(&self, email: &str) -> StoreResult<Option<LoginRecord>> {
        let (email, keys) = (email.to_owned(), self.keys.clone());
        self.pool
            .run(move |c| identity::find_login_by_email(c, &keys, &email))
            .await
    }

    async fn find_bot_for_auth(&self, id: BotId) -> StoreResult<Option<Bot>> {
        self.pool
            .run(move |c| identity::find_bot_for_auth(c, id))
            .await
    }

    async fn create_user(&self, scope: &OrgScope, new: NewUser) -> StoreResult<User> {
        let (scope, keys) = (*scope, self.keys.clone());
        self.pool
            .run(move |c| identity::create_user(c, &keys, scope, new))
            .await
    }

    async fn get_login(&self, scope: &OrgScope, id: UserId) -> StoreResult<LoginRecord> {
        let (scope, keys) = (*scope, self.keys.clone());
        self.pool
            .run(move |c| identity::get_login(c, &keys, scope, id))
            .await
    }

    async fn create_bot(&self, scope: &OrgScope, name: &str) -> StoreResult<Bot> {
        let (scope, name) = (*scope, name.to_owned());
        self.pool
            .run(move |c| identity::create_bot(c, scope, &name))
            .await
    }

    async fn get_bot(&self, scope: &OrgScope, id: BotId) -> StoreResult<Bot> {
        let scope = *scope;
        self.pool
            .run(move |c| identity::get_bot(c, scope, id))
            .await
    }

    async fn revoke_bot(&self, scope: &OrgScope, id: BotId) -> StoreResult<()> {
        let scope = *scope;
        self.pool
            .run(move |c| identity::revoke_bot(c, scope, id))
            .await
    }

    async fn is_bot_revoked(&self, scope: &OrgScope, id: BotId) -> StoreResult<bool> {
        Ok(self.get_bot(scope, id).await?.is_revoked())
    }

    async fn create_meeting(&self, scope: &OrgScope, new: NewMeeting) -> StoreResult<Meeting> {
        let scope = *scope;
        let keys = self.keys.clone();
        self.pool
            .run(move |c| meetings::create_meeting(c, &keys, scope, new))
            .await
    }

    async fn get_meeting(&self, scope: &OrgScope, id: MeetingId) -> StoreResult<Meeting> {
        let scope = *scope;
        let keys = self.keys.clone();
        self.pool
            .run(move |c| meetings::get_meeting(c, &keys, scope, id))
            .await
    }

    async fn list_meetings(&self, scope: &OrgScope) -> StoreResult<Vec<Meeting>> {
        let scope = *scope;
        let keys = self.keys.clone();
        self.pool
            .run(move |c| meetings::list_meetings(c, &keys, scope))
            .await
    }

    async fn delete_meeting(&self, scope: &OrgScope, id: MeetingId) -> StoreResult<()> {
        let scope = *scope;
        self.pool
            .run(move |c| meetings::delete_meeting(c, scope, id))
            .await
    }

    async fn open_stream(&self, scope: &OrgScope, new: NewStream) -> StoreResult<Stream> {
        let scope = *scope;
        self.pool
            .run(move |c| streams::open_stream(c, scope, new))
            .await
    }

    async fn get_stream(&self, scope: &OrgScope, id: StreamId) -> StoreResult<Stream> {
        let scope = *scope;
        self.pool
            .run(move |c| streams::get_stream(c, scope, id))
            .await
    }

    async fn find_stream_by_token(
        &self,
        scope: &OrgScope,
        hash: &ResumeTokenHash,
    ) -> StoreResult<Option<Stream>> {
        let (scope, hash) = (*scope, *hash);
        self.pool
            .run(move |c| streams::find_stream_by_token(c, scope, hash))
            .await
    }

    async fn ack_stream_audio(
        &self,
        scope: &OrgScope,
        id: StreamId,
        acked_audio_ms: u64,
    ) -> StoreResult<u64> {
        let scope = *scope;
        self.pool
            .run(move |c| streams::ack_stream_audio(c, scope, id, acked_audio_ms))
            .await
    }

    async fn close_stream(&self, scope: &OrgScope, id: StreamId) -> StoreResult<()> {
        let scope = *scope;
        self.pool
            .run(move |c| streams::close_stream(c, scope, id))
            .await
    }

    async fn append_final(&self, scope: &OrgScope, new: NewFinal) -> StoreResult<u64> {
        let scope = *scope;
        let keys = self.keys.clone();
        self.pool
            .run(move |c| segments::append_final(c, &keys, scope, new))
            .await
    }

    async fn allocate_seq(&self, scope: &OrgScope, meeting: MeetingId) -> StoreResult<u64> {
        let scope = *scope;
        self.pool
            .run(move |c| segments::allocate_seq(c, scope, meeting))
            .await
    }

    async fn list_finals_since(
        &self,
        scope: &OrgScope,
        meeting: MeetingId,
        after_seq: u64,
    ) -> StoreResult<Vec<FinalRead>> {
        let scope = *scope;
        let keys = self.keys.clone();
        self.pool
            .run(move |c| segments::list_finals_since(c, &keys, scope, meeting, after_seq))
            .await
    }

    async fn create_job(&self, scope: &OrgScope, new: NewJob) -> StoreResult<Job> {
        let scope = *scope;
        self.pool
            .run(move |c| jobs::create_job(c, scope, new))
            .await
    }

    async fn get_job(&self, scope: &OrgScope, id: JobId) -> StoreResult<Job> {
        let scope = *scope;
        self.pool.run(move |c| jobs::get_job(c, scope, id)).await
    }

    async fn update_job(&self, scope: &OrgScope, id: JobId, update: JobUpdate) -> StoreResult<()> {
        let scope = *scope;
        self.pool
            .run(move |c| jobs::update_job(c, scope, id, update))
            .await
    }

    async fn unfinished_jobs(&self) -> StoreResult<Vec<Job>> {
        self.pool.run(jobs::unfinished_jobs).await
    }

    async fn put_ticket(
        &self,
        scope: &OrgScope,
        ticket: NewTicket,
        now_ms: u64,
        max_per_user: usize,
    ) -> StoreResult<()> {
        let scope = *scope;
        self.pool
            .run(move |c| tickets::put_ticket(c, scope, ticket, now_ms, max_per_user))
            .await
    }

    async fn take_ticket(&self, hash: &[u8; 32]) -> StoreResult<Option<RedeemedTicket>> {
        let hash = *hash;
        self.pool.run(move |c| tickets::take_ticket(c, hash)).await
    }

    async fn set_login_counters(
        &self,
        scope: &OrgScope,
        user: UserId,
        counters: LoginCounters,
    ) -> StoreResult<()> {
        let scope = *scope;
        self.pool
            .run(move |c| sessions::set_login_counters(c, scope, user, counters))
            .await
    }

    async fn create_session(&self, scope: &OrgScope, new: NewSession) -> StoreResult<()> {
        let scope = *scope;
        self.pool
            .run(move |c| sessions::create_session(c, scope, new))
            .await
    }

    async fn rotate_session(
        &self,
        scope: &OrgScope,
        rotation: Rotation,
    ) -> StoreResult<RotationOutcome> {
        let scope = *scope;
        self.pool
            .run(move |c| sessions::rotate_session(c, scope, rotation))
            .await
    }

    async fn revoke_sessions(
        &self,
        scope: &OrgScope,
        which: Revocation,
        now_ms: u64,
    ) -> StoreResult<u64> {
        let scope = *scope;
        self.pool
            .run(move |c| sessions::revoke_sessions(c, scope, which, now_ms))
            .await
    }

    async fn deny_token(
        &self,
        scope: &OrgScope,
        hash: &[u8; 32],
        expires_at_ms: u64,
        now_ms: u64,
    ) -> StoreResult<()> {
        let (scope, hash) = (*scope, *hash);
        self.pool
            .run(move |c| sessions::deny_token(c, scope, hash, expires_at_ms, now_ms))
            .await
    }

    async fn access_state(
        &self,
        scope: &OrgScope,
        user: UserId,
        session: SessionId,
        token_hash: &[u8; 32],
        now_ms: u64,
    ) -> StoreResult<AccessState> {
        let (scope, hash) = (*scope, *token_hash);
        self.pool
            .run(move |c| sessions::access_state(c, scope, user, session, hash, now_ms))
            .await
    }

    async fn change_user(
        &self,
        scope: &OrgScope,
        user: UserId,
        change: UserChange,
        now_ms: u64,
    ) -> StoreResult<User> {
        let (scope, keys) = (*scope, self.keys.clone());
        self.pool
            .run(move |c| sessions::change_user(c, &keys, scope, user, change, now_ms))
            .await
    }

    async fn list_users(&self, scope: &OrgScope) -> StoreResult<Vec<User>> {
        let (scope, keys) = (*scope, self.keys.clone());
        self.pool
            .run(move |c| sessions::list_users(c, &keys, scope))
            .await
    }

    async fn mfa_state(&self, scope: &OrgScope, user: UserId) -> StoreResult<MfaState> {
        let (scope, keys) = (*scope, self.keys.clone());
        self.pool
            .run(move |c| sessions::mfa_state(c, &keys, scope, user))
            .await
    }

    async fn set_mfa_secret(
        &self,
        scope: &OrgScope,
        user: UserId,
        secret: Option<String>,
    ) -> StoreResult<()> {
        let (scope, keys) = (*scope, self.keys.clone());
        self.pool
            .run(move |c| sessions::set_mfa_secret(c, &keys, scope, user, secret))
            .await
    }

    async fn enable_mfa(
        &self,
        scope: &OrgScope,
        user: UserId,
        step: u64,
        backup_codes: Vec<[u8; 32]>,
    ) -> StoreResult<()> {
        let scope = *scope;
        self.pool
            .run(move |c| sessions::enable_mfa(c, scope, user, step, backup_codes))
            .await
    }

    async fn claim_totp_step(
        &self,
        scope: &OrgScope,
        user: UserId,
        step: u64,
    ) -> StoreResult<bool> {
        let scope = *scope;
        self.pool
            .run(move |c| sessions::claim_totp_step(c, scope, user, step))
            .await
    }

    async fn use_backup_code(
        &self,
        scope: &OrgScope,
        user: UserId,
        hash: &[u8; 32],
        now_ms: u64,
    ) -> StoreResult<bool> {
        let (scope, hash) = (*scope, *hash);
        self.pool
            .run(move |c| sessions::use_backup_code(c, scope, user, hash, now_ms))
            .await
    }

    async fn org_policy(&self, scope: &OrgScope) -> StoreResult<OrgPolicy> {
        let scope = *scope;
        self.pool.run(move |c| access::org_policy(c, scope)).await
    }

    async fn set_org_policy(
        &self,
        scope: &OrgScope,
        change: OrgPolicyChange,
    ) -> StoreResult<OrgPolicy> {
        let scope = *scope;
        self.pool
            .run(move |c| access::set_org_policy(c, scope, change))
            .await
    }

    async fn meeting_access(
        &self,
        scope: &OrgScope,
        meeting: MeetingId,
        user: UserId,
    ) -> StoreResult<(Meeting, Option<String>)> {
        let (scope, keys) = (*scope, self.keys.clone());
        self.pool
            .run(move |c| access::meeting_access(c, &keys, scope, meeting, user))
            .await
    }

    async fn set_meeting_grant(
        &self,
        scope: &OrgScope,
        meeting: MeetingId,
        user: UserId,
        permission: Option<String>,
    ) -> StoreResult<()> {
        let scope = *scope;
        self.pool
            .run(move |c| access::set_meeting_grant(c, scope, meeting, user, permission))
            .await
    }

    async fn list_meeting_grants(
        &self,
        scope: &OrgScope,
        meeting: MeetingId,
    ) -> StoreResult<Vec<MeetingGrant>> {
        let scope = *scope;
        self.pool
            .run(move |c| access::list_meeting_grants(c, scope, meeting))
            .await
    }

    async fn list_granted_meetings(
        &self,
        scope: &OrgScope,
        user: UserId,
    ) -> StoreResult<Vec<Meeting>> {
        let (scope, keys) = (*scope, self.keys.clone());
        self.pool
            .run(move |c| access::list_granted_meetings(c, &keys, scope, user))
            .await
    }

    async fn create_invite(&self, scope: &OrgScope, new: NewInvite) -> StoreResult<Invite> {
        let (scope, keys) = (*scope, self.keys.clone());
        self.pool
            .run(move |c| access::create_invite(c, &keys, scope, new))
            .await
    }

    async fn list_invites(&self, scope: &OrgScope, now_ms: u64) -> StoreResult<Vec<Invite>> {
        let scope = *scope;
        self.pool
            .run(move |c| access::list_invites(c, scope, now_ms))
            .await
    }

    async fn revoke_invite(&self, scope: &OrgScope, id: InviteId) -> StoreResult<()> {
        let scope = *scope;
        self.pool
            .run(move |c| access::revoke_invite(c, scope, id))
            .await
    }

    async fn find_invite(
        &self,
        hash: &[u8; 32],
        email: &str,
        now_ms: u64,
    ) -> StoreResult<Option<Invite>> {
        let (hash, email, keys) = (*hash, email.to_owned(), self.keys.clone());
        self.pool
            .run(move |c| access::find_invite(c, &keys, hash, &email, now_ms))
            .await
    }

    async fn accept_invite(
        &self,
        invite: &Invite,
        hash: &[u8; 32],
        email: &str,
        password_hash: String,
        now_ms: u64,
    ) -> StoreResult<User> {
        let (invite, hash, email, keys) =
            (invite.clone(), *hash, email.to_owned(), self.keys.clone());
        self.pool
            .run(move |c| {
                access::accept_invite(c, &keys, invite, hash, &email, password_hash, now_ms)
            })
            .await
    }

    async fn set_integration(
        &self,
        scope: &OrgScope,
        name: &str,
        value: Option<String>,
    ) -> StoreResult<()> {
        let (scope, keys, name) = (*scope, self.keys.clone(), name.to_owned());
        self.pool
            .run(move |c| access::set_integration(c, &keys, scope, name, value))
            .await
    }

    async fn integration(&self, scope: &OrgScope, name: &str) -> StoreResult<Option<String>> {
        let (scope, keys, name) = (*scope, self.keys.clone(), name.to_owned());
        self.pool
            .run(move |c| access::integration(c, &keys, scope, name))
            .await
    }

    async fn integration_names(&self, scope: &OrgScope) -> StoreResult<Vec<String>> {
        let scope = *scope;
        self.pool
            .run(move |c| access::integration_names(c, scope))
            .await
    }

    async fn has_users(&self) -> StoreResult<bool> {
        self.pool.run(access::has_users).await
    }

    async fn rotate_data_key(&self, scope: &OrgScope) -> StoreResult<u32> {
        let (scope, keys) = (*scope, self.keys.clone());
        self.pool.run(move |c| keys::rotate(c, &keys, scope)).await
    }

    async fn reencrypt(&self, scope: &OrgScope) -> StoreResult<ReencryptReport> {
        let (scope, keys) = (*scope, self.keys.clone());
        self.pool
            .run(move |c| keys::reencrypt_org(c, &keys, scope))
            .await
    }

    async fn rewrap_data_keys(&self) -> StoreResult<u64> {
        let keys = self.keys.clone();
        self.pool.run(move |c| keys::rewrap_all(c, &keys)).await
    }
}
