//! Audio in: sniffs the real container format by magic bytes, decodes WAV, FLAC, MP3 and
//! OGG/Vorbis with symphonia, resamples any rate and channel count to 16 kHz mono, and runs the
//! streaming core of live transcription. Knows nothing of sockets or engines.
//!
//! - [`sniff`] tells the container from the first bytes ([`AudioFormat`]).
//! - [`decode_file`] / [`decode_bytes`] turn a whole file into [`MonoAudio`], or a
//!   [`DecodeError`] that names the file and the problem. Malformed input is an error, never a
//!   panic and never silently shortened audio.
//! - [`ContainerStream`] decodes one WAV/FLAC/Ogg/MP3 file arriving in pieces (a bot's
//!   `encoding=container` stream) to 16 kHz mono as the bytes come, or a [`StreamDecodeError`];
//!   see [`container`] for the design.
//! - [`StreamResampler`] converts PCM arriving in chunks (live streams); [`to_mono_16k`] does a
//!   whole buffer at once.
//! - [`stream`] is the streaming core of live transcription: voice activity detection,
//!   utterance segmentation and the local-agreement policy that turns engine hypotheses into
//!   final and partial segments ([`StreamSession`]).

#![forbid(unsafe_code)]

pub mod container;
mod decode;
mod error;
mod integrity;
mod resample;
mod sniff;
pub mod stream;

pub use container::{ContainerLimits, ContainerStream, SourceParams};
pub use decode::{decode_bytes, decode_file};
pub use error::{DecodeError, ParamsError, StreamDecodeError};
pub use resample::{check_params, to_mono_16k, StreamResampler};
pub use scribe_core::{MonoAudio, ENGINE_SAMPLE_RATE};
pub use sniff::{sniff, AudioFormat};
pub use stream::{
    DecodeRequest, FinalSegment, PartialSegment, SegmentId, StreamConfig, StreamSession, Update,
};

/// Lowest input sample rate accepted, in Hz. Nothing real records below it, and it caps how much
/// 16 kHz output a small input can expand into (16×).
pub const MIN_SAMPLE_RATE: u32 = 1_000;

/// Highest input sample rate accepted, in Hz (DXD/8× oversampled audio; nothing real is higher).
pub const MAX_SAMPLE_RATE: u32 = 384_000;

/// Most input channels accepted.
pub const MAX_CHANNELS: usize = 32;
