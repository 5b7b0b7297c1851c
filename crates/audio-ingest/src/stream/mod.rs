//! The streaming core of live transcription, engine-agnostic and pure: no sockets, no threads,
//! no clocks.
//!
//! - [`UtteranceSegmenter`] cuts pushed 16 kHz audio into utterances with a voice activity
//!   detector ([`NeuralVad`]); silence never reaches the engine.
//! - [`StreamingPolicy`] turns the engine's successive hypotheses of a growing utterance into
//!   final words (LocalAgreement-2) and a revisable partial ([`Update`]).
//! - [`StreamSession`] ties them together for one stream: audio in, [`DecodeRequest`]s out,
//!   transcripts in, [`Update`]s out.
//!
//! Stream time is counted in samples (16 per ms), so hours of audio never drift; every time
//! shown outside is stream milliseconds.

mod agreement;
mod config;
mod hypothesis;
mod policy;
mod request;
mod segmenter;
mod session;
mod update;
mod utterance;
mod vad;

#[cfg(test)]
mod fake_engine;
#[cfg(test)]
mod segmenter_tests;
#[cfg(test)]
mod session_tests;

pub use config::{ConfigError, StreamConfig};
pub use policy::{PolicyStart, StreamingPolicy};
pub use request::{DecodeRequest, RequestId};
pub use segmenter::{EndReason, SegmenterEvent, UtteranceSegmenter};
pub use session::{SessionStart, StreamSession};
pub use update::{FinalSegment, PartialSegment, SegmentId, Update};
pub use utterance::Utterance;
pub use vad::{NeuralVad, VoiceDetector, VAD_FRAME_SAMPLES};

/// Samples per millisecond at the engine rate (16 kHz): stream time is kept in samples and
/// shown in whole milliseconds.
pub const SAMPLES_PER_MS: u64 = 16;
