//! Domain types shared by every NexusScribe crate: typed ids and the organisation scope,
//! transcript segments and words, the audio format the engine consumes, the closed set of
//! client-visible error codes, and transcript rendering (txt, json, srt, vtt).

pub mod audio;
pub mod error;
pub mod ids;
pub mod phrase;
pub mod render;
pub mod transcript;

pub use audio::{MonoAudio, ENGINE_SAMPLE_RATE};
pub use error::ErrorCode;
pub use ids::{
    BotId, InviteId, JobId, MeetingId, OrgId, OrgScope, SegmentId, SessionId, StreamId, UserId,
};
pub use transcript::{Segment, Transcript, Word};
