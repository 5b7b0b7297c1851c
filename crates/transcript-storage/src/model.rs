//! What the store takes and gives back: inputs (`New…`) and records. Backend-independent input
//! rules live here so every backend enforces the same ones.
//!
//! Records that hold transcript text, titles, emails, speaker names or password hashes have a
//! `Debug` that shows sizes only.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use scribe_core::{
    BotId, InviteId, JobId, MeetingId, OrgId, OrgScope, Segment, SegmentId, SessionId, StreamId,
    UserId,
};

use crate::error::{StoreError, StoreResult};

/// An organisation (tenant).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organisation {
    pub id: OrgId,
    /// Unique, compared without ASCII case.
    pub name: String,
    pub created_at_ms: u64,
}

/// A new user account of the scope's organisation.
#[derive(Clone)]
pub struct NewUser {
    /// Login address; unique across all organisations (compared trimmed and lower-cased).
    pub email: String,
    /// A PHC-format password hash (argon2id) made by scribe-auth; never a password.
    pub password_hash: String,
    /// Role name as scribe-auth defines it; stored, not interpreted, here.
    pub role: String,
}

/// A user account, without credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub org_id: OrgId,
    pub email: String,
    pub role: String,
    pub created_at_ms: u64,
}

/// What login needs: the user (and so its organisation), the stored password hash, the
/// account's lockout counters and whether a second factor is on or required.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginRecord {
    pub user: User,
    pub password_hash: String,
    pub counters: LoginCounters,
    /// Disabled accounts cannot sign in (and their sessions have ended).
    pub disabled: bool,
    /// The user confirmed a TOTP enrolment.
    pub mfa_enabled: bool,
    /// The user's organisation requires MFA of everyone.
    pub org_mfa_required: bool,
    /// The address ranges (CIDR) the organisation's users may sign in from; empty = anywhere.
    pub org_login_networks: Vec<String>,
}

/// An account's lockout counters, stored for scribe-auth's lockout policy: failures since the
/// last lockout or success, lockouts since the last success, and when the current lockout ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoginCounters {
    pub failures: u32,
    pub lockouts: u32,
    pub locked_until_ms: Option<u64>,
}

/// A sign-in session to start: its first refresh token's SHA-256.
#[derive(Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub refresh_hash: [u8; 32],
    pub now_ms: u64,
    pub expires_at_ms: u64,
}

/// One use of a refresh token: the presented token's hash and its successor's.
#[derive(Clone)]
pub struct Rotation {
    pub session_id: SessionId,
    pub presented: [u8; 32],
    pub next: [u8; 32],
    pub now_ms: u64,
}

/// What a refresh did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RotationOutcome {
    /// The token was the session's current one: it is spent and `next` is current. The user's
    /// role as stored now (so a role change applies at the next refresh).
    Rotated { user_id: UserId, role: String },
    /// The token had already been used: the whole session has been revoked (RFC 9700 §4.14.2).
    Reused,
    /// Unknown token, or the session is revoked or expired, or the user disabled.
    Refused,
}

/// Which sessions to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revocation {
    Session(SessionId),
    /// Every session of the user.
    User(UserId),
}

/// Whether an access token still opens the API, beyond its signature and times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessState {
    /// The user is active, the session alive, the token not denylisted. The role as stored now.
    Active { role: String },
    /// Ended; the reason is for the log.
    Ended(&'static str),
}

/// The verdict of `Store::access_state` from what its query found (both backends).
#[allow(clippy::too_many_arguments)]
pub(crate) fn judge_access(
    role: String,
    disabled: Option<u64>,
    owner: Option<UserId>,
    user: UserId,
    revoked: Option<u64>,
    expires: Option<u64>,
    denied: bool,
    now_ms: u64,
) -> AccessState {
    if disabled.is_some() {
        AccessState::Ended("user disabled")
    } else if owner != Some(user) {
        AccessState::Ended("unknown session")
    } else if revoked.is_some() {
        AccessState::Ended("session ended")
    } else if expires.is_none_or(|e| e <= now_ms) {
        AccessState::Ended("session expired")
    } else if denied {
        AccessState::Ended("token revoked")
    } else {
        AccessState::Active { role }
    }
}

/// A change to a user (an administrator's, or a password change); `None` leaves a field as
/// it is.
#[derive(Clone, Default)]
pub struct UserChange {
    /// New role name (scribe-auth validates it strictly before it gets here).
    pub role: Option<String>,
    /// Disable (ending every session) or re-enable.
    pub disabled: Option<bool>,
    /// A new password hash (PHC string): ends every session and clears the lockout counters.
    pub password_hash: Option<String>,
}

impl UserChange {
    /// Whether the change ends the user's sessions (disabling, a new password).
    pub(crate) fn ends_sessions(&self) -> bool {
        self.disabled == Some(true) || self.password_hash.is_some()
    }
}

/// A user's explicit permission on one meeting (`read`, `write` or `admin`), on top of what
/// their role gives; the only access a Guest has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeetingGrant {
    pub user_id: UserId,
    pub permission: String,
    pub granted_at_ms: u64,
}

/// An invitation to join the scope's organisation, or (with `user_id`) a password reset of one
/// of its users: only the SHA-256 of its token and the blind index of the address are stored
/// (whoever uses it must give that address).
#[derive(Clone)]
pub struct NewInvite {
    pub hash: [u8; 32],
    pub email: String,
    pub role: String,
    pub created_by: Option<UserId>,
    pub expires_at_ms: u64,
    /// Set for a password reset of this existing user (accepting it sets the password).
    pub user_id: Option<UserId>,
}

/// A stored invitation (never its token, nor the address, which is kept only as a blind index).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invite {
    pub id: InviteId,
    pub org_id: OrgId,
    pub role: String,
    pub created_by: Option<UserId>,
    pub created_at_ms: u64,
    pub expires_at_ms: u64,
    /// Set for a password reset of this user.
    pub user_id: Option<UserId>,
}

/// What an organisation's administrators set about access: MFA for everyone, the email
/// domains invitations may go to (empty = any), the address ranges sign-in is allowed from
/// (CIDR; empty = anywhere). Items are validated by the caller; the store keeps them as given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrgPolicy {
    pub mfa_required: bool,
    pub invite_domains: Vec<String>,
    pub login_networks: Vec<String>,
}

/// A change of [`OrgPolicy`]: `None` leaves a part as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrgPolicyChange {
    pub mfa_required: Option<bool>,
    pub invite_domains: Option<Vec<String>>,
    pub login_networks: Option<Vec<String>>,
}

/// Most items in one policy list.
pub const MAX_POLICY_ITEMS: usize = 100;

impl OrgPolicy {
    /// This policy with `change` applied.
    pub(crate) fn changed(mut self, change: OrgPolicyChange) -> Self {
        if let Some(required) = change.mfa_required {
            self.mfa_required = required;
        }
        if let Some(domains) = change.invite_domains {
            self.invite_domains = domains;
        }
        if let Some(networks) = change.login_networks {
            self.login_networks = networks;
        }
        self
    }
}

impl OrgPolicyChange {
    pub(crate) fn validate(&self) -> StoreResult<()> {
        for list in [&self.invite_domains, &self.login_networks]
            .into_iter()
            .flatten()
        {
            if list.len() > MAX_POLICY_ITEMS {
                return Err(StoreError::Invalid("too many items in a policy list"));
            }
            for item in list {
                if item.is_empty() || item.len() > 253 || item.contains(char::is_whitespace) {
                    return Err(StoreError::Invalid(
                        "a policy item is empty, too long or contains whitespace",
                    ));
                }
                check_text(item, 253, "a policy item contains NUL")?;
            }
        }
        Ok(())
    }
}

/// The permissions a meeting grant may hold (the table's CHECK says the same).
pub(crate) fn check_permission(p: &str) -> StoreResult<()> {
    if matches!(p, "read" | "write" | "admin") {
        Ok(())
    } else {
        Err(StoreError::Invalid(
            "permission must be read, write or admin",
        ))
    }
}

/// Integration setting names: 1 to 64 of `a-z`, `0-9`, `_`; values at most 4 KiB, no NUL.
pub(crate) fn check_integration(name: &str, value: Option<&str>) -> StoreResult<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(StoreError::Invalid(
            "integration name must be 1 to 64 of a-z, 0-9, _",
        ));
    }
    if let Some(v) = value {
        check_text(v, 4096, "integration value is too long or contains NUL")?;
    }
    Ok(())
}

/// A policy list as stored: one item per line.
pub(crate) fn join_policy_list(items: &[String]) -> String {
    items.join("\n")
}

/// A stored policy list.
pub(crate) fn split_policy_list(stored: &str) -> Vec<String> {
    stored
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

impl NewInvite {
    pub(crate) fn validate(&self) -> StoreResult<()> {
        if email_key(&self.email).is_empty() {
            return Err(StoreError::Invalid("email is empty"));
        }
        check_text(&self.email, 320, "email is too long or contains NUL")?;
        check_text(&self.role, 64, "role is too long or contains NUL")?;
        if self.expires_at_ms > MAX_STORED {
            return Err(StoreError::Invalid("expiry out of range"));
        }
        Ok(())
    }
}

impl fmt::Debug for UserChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserChange")
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl fmt::Debug for NewInvite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewInvite")
            .field("hash", &"<redacted>")
            .field("email", &"<redacted>")
            .field("role", &self.role)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

/// A user's second factor as stored: the TOTP secret (opened; base32), whether enrolment was
/// confirmed, and the last time step accepted.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct MfaState {
    pub secret: Option<String>,
    pub enabled: bool,
    pub last_step: Option<u64>,
}

impl fmt::Debug for MfaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MfaState")
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("enabled", &self.enabled)
            .field("last_step", &self.last_step)
            .finish()
    }
}

impl fmt::Debug for NewSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSession")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Rotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rotation")
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

/// A registered meeting bot. Its API key is derived from its id, never stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bot {
    pub id: BotId,
    pub org_id: OrgId,
    pub name: String,
    pub created_at_ms: u64,
    pub revoked_at_ms: Option<u64>,
}

impl Bot {
    /// True once the bot has been revoked; a revoked bot may not connect.
    pub fn is_revoked(&self) -> bool {
        self.revoked_at_ms.is_some()
    }
}

/// A new meeting in the scope's organisation.
#[derive(Clone)]
pub struct NewMeeting {
    pub title: String,
    pub created_by: Option<UserId>,
}

/// A meeting.
#[derive(Clone, PartialEq, Eq)]
pub struct Meeting {
    pub id: MeetingId,
    pub org_id: OrgId,
    pub title: String,
    pub created_by: Option<UserId>,
    pub created_at_ms: u64,
    /// The last seq handed out in this meeting (0 before the first message); the next
    /// message gets `last_seq + 1`.
    pub last_seq: u64,
}

/// SHA-256 of a stream's resume token. The store only ever sees the hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResumeTokenHash(pub [u8; 32]);

/// A new stream (one bot connection) into a meeting.
#[derive(Clone)]
pub struct NewStream {
    pub meeting_id: MeetingId,
    /// The bot feeding it, if any (file uploads have none).
    pub bot_id: Option<BotId>,
    pub resume_token_hash: ResumeTokenHash,
}

/// A stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stream {
    pub id: StreamId,
    pub org_id: OrgId,
    pub meeting_id: MeetingId,
    pub bot_id: Option<BotId>,
    /// Audio time (ms from the stream's start) up to which results are committed; a resumed
    /// stream continues from here. Never decreases.
    pub acked_audio_ms: u64,
    pub opened_at_ms: u64,
    pub closed_at_ms: Option<u64>,
}

impl Stream {
    /// True once the stream was closed; a closed stream takes no more finals.
    pub fn is_closed(&self) -> bool {
        self.closed_at_ms.is_some()
    }
}

/// A final segment to append to a meeting.
#[derive(Clone)]
pub struct NewFinal {
    /// Chosen by the caller: the partials that preceded this final carried the same id.
    pub segment_id: SegmentId,
    pub meeting_id: MeetingId,
    pub stream_id: StreamId,
    /// Times, text and words. Times are audio ms within the stream.
    pub segment: Segment,
    pub speaker: Option<String>,
    pub language: Option<String>,
    /// When set, the stream's acknowledged audio advances to at least this in the same
    /// transaction, so the resume point never gets ahead of (or behind) the committed finals.
    pub acked_audio_ms: Option<u64>,
}

/// A final segment as stored.
#[derive(Clone, PartialEq)]
pub struct StoredFinal {
    pub id: SegmentId,
    pub meeting_id: MeetingId,
    pub stream_id: StreamId,
    /// Position in the meeting's message sequence (1-based).
    pub seq: u64,
    pub segment: Segment,
    pub speaker: Option<String>,
    pub language: Option<String>,
    pub created_at_ms: u64,
}

/// Unix time in milliseconds, for `*_at_ms` columns.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

// New records as both backends create them: a fresh id, the scope's organisation, `at` (unix
// ms, from `now_ms`) as the creation time.

impl Organisation {
    pub(crate) fn created(name: &str, at: i64) -> Self {
        Self {
            id: OrgId::generate(),
            name: name.to_owned(),
            created_at_ms: at.unsigned_abs(),
        }
    }
}

impl User {
    /// The user `new` describes (its password hash is stored beside, not in, the record).
    pub(crate) fn created(scope: &OrgScope, new: &NewUser, at: i64) -> Self {
        Self {
            id: UserId::generate(),
            org_id: scope.org_id(),
            email: new.email.clone(),
            role: new.role.clone(),
            created_at_ms: at.unsigned_abs(),
        }
    }
}

impl Bot {
    pub(crate) fn created(scope: &OrgScope, name: &str, at: i64) -> Self {
        Self {
            id: BotId::generate(),
            org_id: scope.org_id(),
            name: name.to_owned(),
            created_at_ms: at.unsigned_abs(),
            revoked_at_ms: None,
        }
    }
}

impl Meeting {
    pub(crate) fn created(scope: &OrgScope, new: NewMeeting, at: i64) -> Self {
        Self {
            id: MeetingId::generate(),
            org_id: scope.org_id(),
            title: new.title,
            created_by: new.created_by,
            created_at_ms: at.unsigned_abs(),
            last_seq: 0,
        }
    }
}

impl Stream {
    pub(crate) fn opened(scope: &OrgScope, new: &NewStream, at: i64) -> Self {
        Self {
            id: StreamId::generate(),
            org_id: scope.org_id(),
            meeting_id: new.meeting_id,
            bot_id: new.bot_id,
            acked_audio_ms: 0,
            opened_at_ms: at.unsigned_abs(),
            closed_at_ms: None,
        }
    }
}

/// Where a background job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobState {
    /// The stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        [Self::Queued, Self::Running, Self::Done, Self::Failed]
            .into_iter()
            .find(|state| state.as_str() == s)
    }
}

/// A new job: transcribe an uploaded recording into `meeting_id` through `stream_id` (a
/// bot-less stream of that meeting opened for it).
#[derive(Clone, Debug)]
pub struct NewJob {
    pub meeting_id: MeetingId,
    pub stream_id: StreamId,
    /// The container sniffed from the file's bytes (`wav`, `flac`, `mp3`, `ogg`).
    pub format: String,
    pub bytes: u64,
    pub created_by: Option<UserId>,
}

/// A background job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub id: JobId,
    pub org_id: OrgId,
    pub meeting_id: MeetingId,
    pub stream_id: StreamId,
    pub state: JobState,
    pub format: String,
    pub bytes: u64,
    /// The recording's length, once decoded.
    pub duration_ms: Option<u64>,
    /// Audio transcribed so far.
    pub progress_ms: u64,
    /// Why it failed (for people; never transcript text).
    pub error: Option<String>,
    pub created_by: Option<UserId>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

/// A job's new state and progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobUpdate {
    pub state: JobState,
    pub duration_ms: Option<u64>,
    pub progress_ms: u64,
    pub error: Option<String>,
}

impl NewJob {
    pub(crate) fn validate(&self) -> StoreResult<()> {
        if self.bytes == 0 || self.bytes > MAX_STORED {
            return Err(StoreError::Invalid("job size out of range"));
        }
        check_text(&self.format, 16, "job format is too long or contains NUL")
    }
}

impl JobUpdate {
    pub(crate) fn validate(&self) -> StoreResult<()> {
        check_audio_ms(self.progress_ms)?;
        if let Some(d) = self.duration_ms {
            check_audio_ms(d)?;
        }
        if let Some(e) = &self.error {
            check_text(e, 500, "job error is too long or contains NUL")?;
        }
        Ok(())
    }
}

impl Job {
    pub(crate) fn created(scope: &OrgScope, new: &NewJob, at: i64) -> Self {
        Self {
            id: JobId::generate(),
            org_id: scope.org_id(),
            meeting_id: new.meeting_id,
            stream_id: new.stream_id,
            state: JobState::Queued,
            format: new.format.clone(),
            bytes: new.bytes,
            duration_ms: None,
            progress_ms: 0,
            error: None,
            created_by: new.created_by,
            created_at_ms: at.unsigned_abs(),
            updated_at_ms: at.unsigned_abs(),
        }
    }
}

/// A WebSocket ticket to store: only its SHA-256, bound to a user and a meeting.
#[derive(Clone)]
pub struct NewTicket {
    pub hash: [u8; 32],
    pub user_id: UserId,
    pub meeting_id: MeetingId,
    /// The user's role when the ticket was issued (interpreted by scribe-auth).
    pub role: String,
    pub expires_at_ms: u64,
    /// The session the ticket was issued from (its socket closes when the session ends).
    pub session_id: Option<SessionId>,
}

/// A redeemed ticket: whom it was for, where, until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedeemedTicket {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub meeting_id: MeetingId,
    pub role: String,
    pub expires_at_ms: u64,
    /// The session it was issued from; `None` for tickets from before migration 9.
    pub session_id: Option<SessionId>,
}

impl std::fmt::Debug for NewTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewTicket")
            .field("user_id", &self.user_id)
            .field("meeting_id", &self.meeting_id)
            .finish_non_exhaustive()
    }
}

/// A stored final whose sealed fields cannot be opened: tampered with, damaged, or encrypted
/// with a key this server does not have. Its text is never returned raw nor replaced by a
/// default; readers show the gap and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnreadableFinal {
    pub id: SegmentId,
    pub meeting_id: MeetingId,
    pub stream_id: StreamId,
    pub seq: u64,
    pub start_ms: u64,
    pub end_ms: u64,
    /// Why, for people: e.g. "a stored field failed its integrity check (tampered or damaged)".
    pub reason: String,
}

/// One final as read back: readable, or the record of why not.
pub type FinalRead = Result<StoredFinal, UnreadableFinal>;

/// Largest value the backends store in a signed 64-bit column.
const MAX_STORED: u64 = i64::MAX as u64;

fn check_text(value: &str, max_bytes: usize, what: &'static str) -> StoreResult<()> {
    if value.contains('\0') {
        return Err(StoreError::Invalid(what));
    }
    if value.len() > max_bytes {
        return Err(StoreError::Invalid(what));
    }
    Ok(())
}

/// Organisation names: non-blank, at most 200 bytes, no NUL.
pub(crate) fn check_org_name(name: &str) -> StoreResult<()> {
    if name.trim().is_empty() {
        return Err(StoreError::Invalid("organisation name is empty"));
    }
    check_text(name, 200, "organisation name is too long or contains NUL")
}

/// The login lookup key of an email address: trimmed and lower-cased.
pub(crate) fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

impl NewUser {
    pub(crate) fn validate(&self) -> StoreResult<()> {
        if email_key(&self.email).is_empty() {
            return Err(StoreError::Invalid("email is empty"));
        }
        check_text(&self.email, 320, "email is too long or contains NUL")?;
        if self.password_hash.is_empty() {
            return Err(StoreError::Invalid("password hash is empty"));
        }
        check_text(&self.password_hash, 1024, "password hash is too long")?;
        check_text(&self.role, 64, "role is too long or contains NUL")
    }
}

/// Bot names: at most 200 bytes, no NUL.
pub(crate) fn check_bot_name(name: &str) -> StoreResult<()> {
    check_text(name, 200, "bot name is too long or contains NUL")
}

impl NewMeeting {
    pub(crate) fn validate(&self) -> StoreResult<()> {
        check_text(&self.title, 1000, "title is too long or contains NUL")
    }
}

/// Audio times must fit the backends' signed 64-bit columns.
pub(crate) fn check_audio_ms(ms: u64) -> StoreResult<()> {
    if ms > MAX_STORED {
        return Err(StoreError::Invalid("audio time out of range"));
    }
    Ok(())
}

impl NewFinal {
    pub(crate) fn validate(&self) -> StoreResult<()> {
        let s = &self.segment;
        check_audio_ms(s.end_ms)?;
        if s.end_ms < s.start_ms {
            return Err(StoreError::Invalid("segment ends before it starts"));
        }
        check_text(
            &s.text,
            64 * 1024,
            "segment text is too long or contains NUL",
        )?;
        for w in &s.words {
            check_audio_ms(w.end_ms.max(w.start_ms))?;
            if !w.confidence.is_finite() {
                return Err(StoreError::Invalid(
                    "word confidence is not a finite number",
                ));
            }
            check_text(&w.word, 1024, "word is too long or contains NUL")?;
        }
        if let Some(sp) = &self.speaker {
            check_text(sp, 200, "speaker is too long or contains NUL")?;
        }
        if let Some(lang) = &self.language {
            check_text(lang, 35, "language is too long or contains NUL")?;
        }
        if let Some(ms) = self.acked_audio_ms {
            check_audio_ms(ms)?;
        }
        Ok(())
    }
}

// Debug impls that show shape, not content (emails, titles, text and hashes stay out of logs).

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("role", &self.role)
            .field("created_at_ms", &self.created_at_ms)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for LoginRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRecord")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for NewMeeting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewMeeting")
            .field("title_chars", &self.title.chars().count())
            .field("created_by", &self.created_by)
            .finish()
    }
}

impl fmt::Debug for Meeting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Meeting")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("title_chars", &self.title.chars().count())
            .field("created_by", &self.created_by)
            .field("created_at_ms", &self.created_at_ms)
            .field("last_seq", &self.last_seq)
            .finish()
    }
}

impl fmt::Debug for ResumeTokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResumeTokenHash(..)")
    }
}

impl fmt::Debug for NewStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewStream")
            .field("meeting_id", &self.meeting_id)
            .field("bot_id", &self.bot_id)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for NewFinal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewFinal")
            .field("segment_id", &self.segment_id)
            .field("meeting_id", &self.meeting_id)
            .field("stream_id", &self.stream_id)
            .field("segment", &self.segment)
            .field("acked_audio_ms", &self.acked_audio_ms)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for StoredFinal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredFinal")
            .field("id", &self.id)
            .field("meeting_id", &self.meeting_id)
            .field("stream_id", &self.stream_id)
            .field("seq", &self.seq)
            .field("segment", &self.segment)
            .field("language", &self.language)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn final_with(text: &str, start_ms: u64, end_ms: u64) -> NewFinal {
        NewFinal {
            segment_id: SegmentId::generate(),
            meeting_id: MeetingId::generate(),
            stream_id: StreamId::generate(),
            segment: Segment {
                start_ms,
                end_ms,
                text: text.into(),
                words: vec![],
            },
            speaker: Some("Dr Private".into()),
            language: Some("en".into()),
            acked_audio_ms: None,
        }
    }

    #[test]
    fn debug_hides_sensitive_fields() {
        let user = User {
            id: UserId::generate(),
            org_id: OrgId::generate(),
            email: "secret.person@example.org".into(),
            role: "admin".into(),
            created_at_ms: 1,
        };
        let login = LoginRecord {
            user: user.clone(),
            password_hash: "$argon2id$v=19$secrethash".into(),
            counters: LoginCounters::default(),
            disabled: false,
            mfa_enabled: false,
            org_mfa_required: false,
            org_login_networks: Vec::new(),
        };
        let meeting = Meeting {
            id: MeetingId::generate(),
            org_id: OrgId::generate(),
            title: "Consultation with patient Jane".into(),
            created_by: None,
            created_at_ms: 1,
            last_seq: 0,
        };
        let new = final_with("the diagnosis is private", 0, 10);
        let shown = [
            format!("{user:?}"),
            format!("{login:?}"),
            format!("{meeting:?}"),
            format!("{new:?}"),
            format!("{:?}", ResumeTokenHash([7; 32])),
        ]
        .join("\n");
        for secret in [
            "secret.person",
            "secrethash",
            "Jane",
            "diagnosis",
            "Private",
        ] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
    }

    #[test]
    fn finals_are_checked() {
        assert!(final_with("ok", 5, 10).validate().is_ok());
        assert!(matches!(
            final_with("ok", 10, 5).validate(),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            final_with("nul\0inside", 0, 5).validate(),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            final_with("ok", 0, u64::MAX).validate(),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn email_key_normalises() {
        assert_eq!(email_key("  Ada@Example.ORG "), "ada@example.org");
    }
}
