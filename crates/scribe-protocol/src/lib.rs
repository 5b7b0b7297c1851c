//! The wire contract of PROTOCOL.md §1–2 as serde types: control messages from bots, result
//! messages to bots and viewers, audio parameters from the query string, and close codes.
//! Knows nothing of sockets, storage or engines.

mod audio_params;
mod close;
mod messages;

pub use audio_params::{AudioParams, AudioParamsError, Encoding};
pub use close::CloseCode;
pub use messages::{
    BotControl, ControlError, ErrorMessage, MetadataMessage, SegmentMessage, ServerMessage,
    SnapshotMessage, WordMessage,
};

/// Version of this wire contract; bumped only when something is changed or removed.
pub const PROTOCOL_VERSION: u32 = 1;
