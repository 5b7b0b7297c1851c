//! Changes other processes made to the store, for servers that share one database: a final
//! committed by one server reaches viewers connected to another.

use scribe_core::{MeetingId, OrgId};

/// Something another process committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// A final was stored in `meeting` with this seq (read it with `list_finals_since`).
    Final {
        org_id: OrgId,
        meeting_id: MeetingId,
        seq: u64,
    },
    /// The meeting was deleted.
    Deleted {
        org_id: OrgId,
        meeting_id: MeetingId,
    },
    /// Changes may have been missed (the feed's connection dropped, or the receiver fell
    /// behind): re-read whatever is being followed.
    Resync,
}
