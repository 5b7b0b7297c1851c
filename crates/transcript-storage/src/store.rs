//! The `Store` trait: everything the rest of NexusScribe may ask of storage.
//!
//! Conventions: `get_*` answers [`StoreError::NotFound`] when the row is missing *or belongs to
//! another organisation* (the caller cannot tell the two apart); `find_*` answers `Ok(None)`
//! for the same cases. Every method on organisation-owned data takes an [`OrgScope`]; the few
//! that do not are listed under "unscoped lookups" and exist to *establish* a scope.
//!
//! Encryption at rest sits inside the backends: sensitive fields (meeting titles, segment
//! text, words and speaker) are sealed on the way in and opened on the way out, so this trait
//! speaks plain values.

use async_trait::async_trait;
use scribe_core::{
    BotId, InviteId, JobId, MeetingId, OrgId, OrgScope, SessionId, StreamId, UserId,
};

use crate::change::Change;
use crate::error::StoreResult;
use crate::model::{
    AccessState, Bot, FinalRead, Invite, Job, JobUpdate, LoginCounters, LoginRecord, Meeting,
    MeetingGrant, MfaState, NewFinal, NewInvite, NewJob, NewMeeting, NewSession, NewStream,
    NewTicket, NewUser, OrgPolicy, OrgPolicyChange, Organisation, RedeemedTicket, ResumeTokenHash,
    Revocation, Rotation, RotationOutcome, Stream, User, UserChange,
};
use crate::sealing::ReencryptReport;

/// Storage of organisations, users, bots, meetings, streams and transcript segments.
///
/// Used as `Arc<dyn Store>`; every write is committed (durable) before its future resolves.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // ---- unscoped lookups: the tenant registry and authentication ----

    /// Creates an organisation. [`StoreError::Conflict`](crate::StoreError::Conflict) if the
    /// name (ASCII case ignored) is taken.
    async fn create_organisation(&self, name: &str) -> StoreResult<Organisation>;

    /// The organisation `id`. For set-up commands and for the signed-in principal's own org.
    async fn get_organisation(&self, id: OrgId) -> StoreResult<Organisation>;

    /// The organisation named `name` (ASCII case ignored). For set-up commands (`--org NAME`).
    async fn find_organisation_by_name(&self, name: &str) -> StoreResult<Option<Organisation>>;

    /// Login's lookup across organisations: the user with this email (trimmed, case ignored)
    /// and its password hash. The only unscoped user query; its result's `user.org_id` is what
    /// auth turns into an [`OrgScope`] once the password has been verified.
    async fn find_login_by_email(&self, email: &str) -> StoreResult<Option<LoginRecord>>;

    /// Bot authentication's lookup: the bot `id` with its organisation and revocation state.
    /// Call only after the presented API key has been verified against `id` (the key is
    /// derived from the id); the result's `org_id` then becomes the bot's [`OrgScope`].
    async fn find_bot_for_auth(&self, id: BotId) -> StoreResult<Option<Bot>>;

    // ---- users ----

    /// Creates a user in the scope's organisation. `Conflict` if the email is registered in
    /// any organisation (emails are the global login name).
    async fn create_user(&self, scope: &OrgScope, new: NewUser) -> StoreResult<User>;

    /// The user `id` of the scope's organisation with their sign-in state (password hash,
    /// lockout counters, MFA flags, the organisation's sign-in policy), in one query.
    async fn get_login(&self, scope: &OrgScope, id: UserId) -> StoreResult<LoginRecord>;

    /// The user `id` of the scope's organisation.
    async fn get_user(&self, scope: &OrgScope, id: UserId) -> StoreResult<User> {
        Ok(self.get_login(scope, id).await?.user)
    }

    // ---- bots ----

    /// Registers a bot named `name` in the scope's organisation.
    async fn create_bot(&self, scope: &OrgScope, name: &str) -> StoreResult<Bot>;

    /// The bot `id` of the scope's organisation.
    async fn get_bot(&self, scope: &OrgScope, id: BotId) -> StoreResult<Bot>;

    /// Revokes the bot `id` (idempotent: revoking twice keeps the first time).
    async fn revoke_bot(&self, scope: &OrgScope, id: BotId) -> StoreResult<()>;

    /// Whether the bot `id` is revoked; `NotFound` for an unknown (or foreign) bot.
    async fn is_bot_revoked(&self, scope: &OrgScope, id: BotId) -> StoreResult<bool>;

    // ---- meetings ----

    /// Creates a meeting in the scope's organisation.
    async fn create_meeting(&self, scope: &OrgScope, new: NewMeeting) -> StoreResult<Meeting>;

    /// The meeting `id` of the scope's organisation.
    async fn get_meeting(&self, scope: &OrgScope, id: MeetingId) -> StoreResult<Meeting>;

    /// The scope's meetings, oldest first.
    async fn list_meetings(&self, scope: &OrgScope) -> StoreResult<Vec<Meeting>>;

    /// Deletes the meeting `id` with its streams and segments.
    async fn delete_meeting(&self, scope: &OrgScope, id: MeetingId) -> StoreResult<()>;

    // ---- streams ----

    /// Opens a stream into `new.meeting_id`. `NotFound` if the meeting (or the bot) is not the
    /// scope's; `Conflict` if the resume-token hash is already in use.
    async fn open_stream(&self, scope: &OrgScope, new: NewStream) -> StoreResult<Stream>;

    /// The stream `id` of the scope's organisation.
    async fn get_stream(&self, scope: &OrgScope, id: StreamId) -> StoreResult<Stream>;

    /// The stream whose resume token hashes to `hash` (open or closed: the caller decides).
    async fn find_stream_by_token(
        &self,
        scope: &OrgScope,
        hash: &ResumeTokenHash,
    ) -> StoreResult<Option<Stream>>;

    /// Advances the stream's acknowledged audio to at least `acked_audio_ms` and returns the
    /// stored value (it never decreases).
    async fn ack_stream_audio(
        &self,
        scope: &OrgScope,
        id: StreamId,
        acked_audio_ms: u64,
    ) -> StoreResult<u64>;

    /// Closes the stream (idempotent). A closed stream takes no more finals.
    async fn close_stream(&self, scope: &OrgScope, id: StreamId) -> StoreResult<()>;

    // ---- segments and the per-meeting sequence ----

    /// Stores a final segment and returns the seq the store gave it: the meeting's next
    /// number, allocated atomically with the insert (across tasks, handles and processes).
    /// Appending a segment id already stored in this meeting returns its existing seq and
    /// changes nothing (a safe retry). `NotFound` if the meeting or stream is not the scope's;
    /// `Invalid` if the stream feeds another meeting; `Conflict` if the stream is closed.
    async fn append_final(&self, scope: &OrgScope, new: NewFinal) -> StoreResult<u64>;

    /// Reserves the meeting's next seq for a message that is not stored (a partial), so
    /// finals and partials share one gapless counter even across processes.
    async fn allocate_seq(&self, scope: &OrgScope, meeting: MeetingId) -> StoreResult<u64>;

    /// The meeting's finals with `seq > after_seq`, in seq order. `NotFound` if the meeting is
    /// not the scope's (an existing meeting without finals gives an empty list). A final whose
    /// sealed fields cannot be opened comes back as [`UnreadableFinal`] in its place, so one
    /// damaged value never hides the rest of the transcript.
    async fn list_finals_since(
        &self,
        scope: &OrgScope,
        meeting: MeetingId,
        after_seq: u64,
    ) -> StoreResult<Vec<FinalRead>>;

    // ---- background jobs (recording uploads) ----

    /// Records a queued job. `NotFound` unless the meeting and the stream are the scope's;
    /// `Invalid` if the stream feeds another meeting.
    async fn create_job(&self, scope: &OrgScope, new: NewJob) -> StoreResult<Job>;

    /// The job `id` of the scope's organisation.
    async fn get_job(&self, scope: &OrgScope, id: JobId) -> StoreResult<Job>;

    /// Sets the job's state and progress.
    async fn update_job(&self, scope: &OrgScope, id: JobId, update: JobUpdate) -> StoreResult<()>;

    /// Unscoped, for a starting server: every queued or running job of every organisation,
    /// oldest first (their `org_id` becomes the scope they resume under).
    async fn unfinished_jobs(&self) -> StoreResult<Vec<Job>>;

    // ---- WebSocket tickets (shared by every server on the store) ----

    /// Stores a ticket for a user of the scope's organisation. Expired tickets are purged on
    /// the way; `Conflict` when the user already holds `max_per_user` unexpired tickets;
    /// `NotFound` if the user or the meeting is not the scope's.
    async fn put_ticket(
        &self,
        scope: &OrgScope,
        ticket: NewTicket,
        now_ms: u64,
        max_per_user: usize,
    ) -> StoreResult<()>;

    /// Unscoped (a ticket is the credential that establishes the scope): removes the ticket
    /// whose hash is `hash` and returns it, expired or not (the caller checks); `None` if no
    /// such ticket exists (unknown, or already used on any server).
    async fn take_ticket(&self, hash: &[u8; 32]) -> StoreResult<Option<RedeemedTicket>>;

    // ---- sign-in: lockout, sessions, revocation, second factor ----

    /// Stores the user's lockout counters (scribe-auth computes them). `NotFound` if the user
    /// is not the scope's.
    async fn set_login_counters(
        &self,
        scope: &OrgScope,
        user: UserId,
        counters: LoginCounters,
    ) -> StoreResult<()>;

    /// Starts a session for an active user of the scope with its first refresh token's hash.
    /// `NotFound` if the user is not the scope's or is disabled.
    async fn create_session(&self, scope: &OrgScope, new: NewSession) -> StoreResult<()>;

    /// Spends a refresh token and makes `next` the session's current one, atomically (two
    /// servers presented the same token: one rotates, the other sees reuse). A token that was
    /// already spent revokes the whole session.
    async fn rotate_session(
        &self,
        scope: &OrgScope,
        rotation: Rotation,
    ) -> StoreResult<RotationOutcome>;

    /// Ends one session or all of a user's; returns how many were still open.
    async fn revoke_sessions(
        &self,
        scope: &OrgScope,
        which: Revocation,
        now_ms: u64,
    ) -> StoreResult<u64>;

    /// Denylists one token (its SHA-256) until `expires_at_ms`; expired entries are purged on
    /// the way.
    async fn deny_token(
        &self,
        scope: &OrgScope,
        hash: &[u8; 32],
        expires_at_ms: u64,
        now_ms: u64,
    ) -> StoreResult<()>;

    /// Whether an access token of `user` in `session` with hash `token_hash` still opens the
    /// API: the user exists and is not disabled, the session is open and unexpired, the token is
    /// not denylisted. One query per request.
    async fn access_state(
        &self,
        scope: &OrgScope,
        user: UserId,
        session: SessionId,
        token_hash: &[u8; 32],
        now_ms: u64,
    ) -> StoreResult<AccessState>;

    /// Changes a user's role or disabled flag. Disabling ends every session of the user in the
    /// same transaction. `NotFound` if the user is not the scope's.
    async fn change_user(
        &self,
        scope: &OrgScope,
        user: UserId,
        change: UserChange,
        now_ms: u64,
    ) -> StoreResult<User>;

    /// Every user of the scope's organisation, oldest first.
    async fn list_users(&self, scope: &OrgScope) -> StoreResult<Vec<User>>;

    /// The user's second factor.
    async fn mfa_state(&self, scope: &OrgScope, user: UserId) -> StoreResult<MfaState>;

    /// Starts (`Some`, base32 secret, sealed at rest) or removes (`None`) a TOTP enrolment.
    /// Either way MFA is off and the backup codes are gone until [`Store::enable_mfa`].
    async fn set_mfa_secret(
        &self,
        scope: &OrgScope,
        user: UserId,
        secret: Option<String>,
    ) -> StoreResult<()>;

    /// Confirms the pending enrolment: MFA on, `step` spent, the backup codes (SHA-256 hashes)
    /// replace any earlier ones. `Conflict` if there is no pending secret.
    async fn enable_mfa(
        &self,
        scope: &OrgScope,
        user: UserId,
        step: u64,
        backup_codes: Vec<[u8; 32]>,
    ) -> StoreResult<()>;

    /// Spends TOTP time step `step` if it is later than the last one accepted: `false` if it
    /// is not (a replayed code, here or on another server).
    async fn claim_totp_step(&self, scope: &OrgScope, user: UserId, step: u64)
        -> StoreResult<bool>;

    /// Spends an unused backup code: `false` if the user has no such unused code.
    async fn use_backup_code(
        &self,
        scope: &OrgScope,
        user: UserId,
        hash: &[u8; 32],
        now_ms: u64,
    ) -> StoreResult<bool>;

    // ---- access: organisation policy, per-meeting grants, invitations ----

    /// The organisation's access policy.
    async fn org_policy(&self, scope: &OrgScope) -> StoreResult<OrgPolicy>;

    /// Changes the parts of the organisation's access policy that `change` names; returns the
    /// policy as it now is.
    async fn set_org_policy(
        &self,
        scope: &OrgScope,
        change: OrgPolicyChange,
    ) -> StoreResult<OrgPolicy>;

    /// The meeting and `user`'s explicit grant on it (`None` without one), in one query: what
    /// the access check of every meeting request needs. `NotFound` if the meeting is not the
    /// scope's.
    async fn meeting_access(
        &self,
        scope: &OrgScope,
        meeting: MeetingId,
        user: UserId,
    ) -> StoreResult<(Meeting, Option<String>)>;

    /// Gives `user` `permission` (`read`, `write`, `admin`) on the meeting, replacing an
    /// earlier grant, or (`None`) takes the grant away. `NotFound` if the meeting or the user
    /// is not the scope's.
    async fn set_meeting_grant(
        &self,
        scope: &OrgScope,
        meeting: MeetingId,
        user: UserId,
        permission: Option<String>,
    ) -> StoreResult<()>;

    /// The explicit grants on a meeting, oldest first.
    async fn list_meeting_grants(
        &self,
        scope: &OrgScope,
        meeting: MeetingId,
    ) -> StoreResult<Vec<MeetingGrant>>;

    /// The meetings `user` has an explicit grant on (what a Guest's meeting list shows).
    async fn list_granted_meetings(
        &self,
        scope: &OrgScope,
        user: UserId,
    ) -> StoreResult<Vec<Meeting>>;

    /// Stores an invitation. `Conflict` if the address already has an account.
    async fn create_invite(&self, scope: &OrgScope, new: NewInvite) -> StoreResult<Invite>;

    /// The scope's invitations not yet accepted nor expired at `now_ms`, oldest first.
    async fn list_invites(&self, scope: &OrgScope, now_ms: u64) -> StoreResult<Vec<Invite>>;

    /// Withdraws an open invitation. `NotFound` if it is not the scope's or is already used.
    async fn revoke_invite(&self, scope: &OrgScope, id: InviteId) -> StoreResult<()>;

    /// Unscoped (the invitation's token establishes the scope): the open, unexpired invitation
    /// with token hash `hash` for address `email` — `None` if there is none, it was used, it
    /// expired or it was made for another address.
    async fn find_invite(
        &self,
        hash: &[u8; 32],
        email: &str,
        now_ms: u64,
    ) -> StoreResult<Option<Invite>>;

    /// Accepts an invitation found with [`Store::find_invite`]: marks it used and creates the
    /// account for `email` with the invitation's role, in one transaction, so a token makes one
    /// account even when presented twice at once. `NotFound` if it is no longer open (or not
    /// for `email`); `Conflict` if the address got an account meanwhile.
    async fn accept_invite(
        &self,
        invite: &Invite,
        hash: &[u8; 32],
        email: &str,
        password_hash: String,
        now_ms: u64,
    ) -> StoreResult<User>;

    /// Sets (`Some`, sealed at rest) or removes (`None`) the organisation's integration setting
    /// `name` (e.g. `alert_webhook`).
    async fn set_integration(
        &self,
        scope: &OrgScope,
        name: &str,
        value: Option<String>,
    ) -> StoreResult<()>;

    /// The organisation's integration setting `name`, opened.
    async fn integration(&self, scope: &OrgScope, name: &str) -> StoreResult<Option<String>>;

    /// The names of the organisation's integration settings that are set.
    async fn integration_names(&self, scope: &OrgScope) -> StoreResult<Vec<String>>;

    /// Unscoped: whether any account exists at all (a fresh install has none: `serve` then
    /// offers the one-time setup code).
    async fn has_users(&self) -> StoreResult<bool>;

    // ---- encryption at rest: key management ----

    /// Adds a new data-key version for the scope's organisation; new writes use it, older
    /// versions stay readable. Returns the new version.
    async fn rotate_data_key(&self, scope: &OrgScope) -> StoreResult<u32>;

    /// Seals every value of the scope's organisation that is not under its newest data key
    /// again with it. Values that cannot be opened are counted, left alone, never replaced.
    async fn reencrypt(&self, scope: &OrgScope) -> StoreResult<ReencryptReport>;

    /// Re-wraps every organisation's data keys with the current master key (after the master
    /// key was rotated, with the old one still configured as previous). Returns how many keys
    /// were re-wrapped.
    async fn rewrap_data_keys(&self) -> StoreResult<u64>;

    /// Changes committed by *other* processes sharing this store's database, for servers that
    /// run side by side (each one's own changes reach its viewers directly). `None` when the
    /// backend has no cross-process feed (the embedded store serves one server). Changes come
    /// after their transaction committed; a receiver that lags gets `Lagged` and should resync.
    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Change>> {
        None
    }

    /// All finals of the meeting, in seq order.
    async fn list_finals(
        &self,
        scope: &OrgScope,
        meeting: MeetingId,
    ) -> StoreResult<Vec<FinalRead>> {
        self.list_finals_since(scope, meeting, 0).await
    }
}
