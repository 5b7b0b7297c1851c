//! Transcript storage: the `Store` trait every other crate talks to, its two backends —
//! embedded (SQLite, the default) and PostgreSQL (production, several servers on one
//! database) — each with versioned migrations, and the conformance suite both must pass.
//!
//! Every organisation-owned operation takes an [`OrgScope`]; an unscoped query on such data
//! does not compile; on PostgreSQL, row-level security is a second wall. Servers sharing a
//! PostgreSQL database learn of each other's finals through [`Store::changes`]
//! (LISTEN/NOTIFY). Field encryption (issue 4) slots in behind the same trait.

mod change;
mod crypto;
mod embedded;
mod error;
mod migration;
mod model;
mod postgres;
mod sealing;
mod store;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use change::Change;
pub use crypto::Keyring;
pub use embedded::backup::{
    check_file as check_backup, restore as restore_backup, BackupSummary, RestoreOutcome, LOCK_FILE,
};
pub use embedded::{EmbeddedOptions, EmbeddedStore, EMBEDDED_DB_FILE};
pub use error::{StoreError, StoreResult};
pub use model::{
    AccessState, Bot, FinalRead, Invite, Job, JobState, JobUpdate, LoginCounters, LoginRecord,
    Meeting, MeetingGrant, MfaState, NewFinal, NewInvite, NewJob, NewMeeting, NewSession,
    NewStream, NewTicket, NewUser, OrgPolicy, OrgPolicyChange, Organisation, RedeemedTicket,
    ResumeTokenHash, Revocation, Rotation, RotationOutcome, StoredFinal, Stream, UnreadableFinal,
    User, UserChange, MAX_POLICY_ITEMS,
};
pub use postgres::{PostgresOptions, PostgresStore, PostgresTls, SchemaStatus};
pub use scribe_core::{
    BotId, InviteId, JobId, MeetingId, OrgId, OrgScope, SegmentId, SessionId, StreamId, UserId,
};
pub use sealing::ReencryptReport;
pub use store::Store;
