//! Transcript storage: the `Store` trait every other crate talks to, its embedded (SQLite)
//! backend with versioned migrations, and the conformance suite every backend must pass.
//!
//! Every organisation-owned operation takes an [`OrgScope`]; an unscoped query on such data
//! does not compile. The PostgreSQL backend, field encryption and the change feed (issue 4)
//! slot in behind the same trait.

mod embedded;
mod error;
mod model;
mod store;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use embedded::backup::{
    check_file as check_backup, restore as restore_backup, BackupSummary, RestoreOutcome, LOCK_FILE,
};
pub use embedded::{EmbeddedOptions, EmbeddedStore, EMBEDDED_DB_FILE};
pub use error::{StoreError, StoreResult};
pub use model::{
    Bot, LoginRecord, Meeting, NewFinal, NewMeeting, NewStream, NewUser, Organisation,
    ResumeTokenHash, StoredFinal, Stream, User,
};
pub use scribe_core::{BotId, MeetingId, OrgId, OrgScope, SegmentId, StreamId, UserId};
pub use store::Store;
