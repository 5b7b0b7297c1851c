//! The crate's errors: [`DecodeError`] for whole files (always names the file),
//! [`StreamDecodeError`] for container streams arriving in pieces, and [`ParamsError`] for raw
//! PCM whose rate, channel count or framing is unusable.

use std::path::PathBuf;

use scribe_core::ErrorCode;

use crate::sniff::AudioFormat;

/// Why a file could not be turned into 16 kHz mono audio.
///
/// `Display` always starts with the file path (or the name given to
/// [`decode_bytes`](crate::decode_bytes)), then names the problem in plain words; it is the whole
/// story (no variant has a `source()`). It never contains audio samples or file contents.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// There is no file at the path.
    #[error("{}: file not found", .path.display())]
    NotFound { path: PathBuf },

    /// The file exists but could not be read (permissions, a directory, an I/O error).
    // The cause is part of the message rather than a `#[source]`, so chain-printing reporters
    // (`anyhow`'s `{:#}`) do not repeat it.
    #[error("{}: cannot read file: {cause}", .path.display())]
    Unreadable {
        path: PathBuf,
        cause: std::io::Error,
    },

    /// The file has zero bytes.
    #[error("{}: file is empty", .path.display())]
    Empty { path: PathBuf },

    /// The contents are not audio. `looks_like` says what they resemble, when that is known.
    #[error("{}: not an audio file: {looks_like}", .path.display())]
    NotAudio { path: PathBuf, looks_like: String },

    /// The contents are audio (or a media container) in a format this crate cannot decode.
    #[error("{}: unsupported audio format: {format}", .path.display())]
    UnsupportedFormat { path: PathBuf, format: String },

    /// The extension names one audio format but the contents are another.
    #[error(
        "{}: extension says {extension} but the contents are {actual} (file is mislabelled)",
        .path.display()
    )]
    Mislabelled {
        path: PathBuf,
        extension: AudioFormat,
        actual: AudioFormat,
    },

    /// The stream ends before its own headers say it should (cut off mid-file or mid-packet).
    #[error("{}: truncated {format} stream: {detail}", .path.display())]
    Truncated {
        path: PathBuf,
        format: AudioFormat,
        detail: String,
    },

    /// The container or a packet inside it is malformed.
    #[error("{}: corrupt {format} stream: {detail}", .path.display())]
    Corrupt {
        path: PathBuf,
        format: AudioFormat,
        detail: String,
    },

    /// The container is supported but the codec inside it is not (e.g. Opus in Ogg).
    #[error("{}: unsupported codec {codec} inside the {format} container", .path.display())]
    UnsupportedCodec {
        path: PathBuf,
        format: AudioFormat,
        codec: String,
    },

    /// The stream is well formed but holds no samples.
    #[error("{}: the {format} stream contains no audio (zero length)", .path.display())]
    ZeroLength { path: PathBuf, format: AudioFormat },

    /// The stream declares a sample rate or channel count no real recording has.
    #[error("{}: absurd audio parameters: {problem}", .path.display())]
    BadParameters { path: PathBuf, problem: ParamsError },

    /// The decoder library panicked on this input; the panic was contained.
    #[error("{}: the {format} decoder failed on malformed data", .path.display())]
    DecoderPanicked { path: PathBuf, format: AudioFormat },
}

impl DecodeError {
    /// The client-visible code for this error (the gateway maps it to HTTP/WebSocket codes).
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::Unreadable { .. } => ErrorCode::Internal,
            Self::Empty { .. }
            | Self::NotAudio { .. }
            | Self::UnsupportedFormat { .. }
            | Self::Mislabelled { .. }
            | Self::UnsupportedCodec { .. } => ErrorCode::UnsupportedMediaType,
            Self::Truncated { .. }
            | Self::Corrupt { .. }
            | Self::ZeroLength { .. }
            | Self::BadParameters { .. }
            | Self::DecoderPanicked { .. } => ErrorCode::InvalidAudio,
        }
    }
}

/// PCM that cannot be resampled: the rate, channel count or framing is out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// Sample rate outside `MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE`.
    #[error(
        "sample rate {0} Hz is outside {min}..={max} Hz",
        min = crate::MIN_SAMPLE_RATE,
        max = crate::MAX_SAMPLE_RATE
    )]
    SampleRate(u32),

    /// Channel count outside `1..=MAX_CHANNELS`.
    #[error("{0} channels is outside 1..={max}", max = crate::MAX_CHANNELS)]
    Channels(usize),

    /// Interleaved input whose length is not a whole number of frames.
    #[error("{samples} interleaved samples are not a whole number of {channels}-channel frames")]
    PartialFrame { samples: usize, channels: usize },

    /// The resampler library rejected its input (a bug here, not bad audio).
    #[error("resampler failed: {0}")]
    Resampler(String),
}

/// Why a container stream ([`ContainerStream`](crate::ContainerStream), `encoding=container`)
/// cannot be decoded any further.
///
/// `Display` starts with `container stream:` and names the problem in plain words (and the byte
/// offset, where one is known); it never contains audio samples or stream bytes. After an error
/// the stream is dead: every later call returns the same error again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamDecodeError {
    /// The first bytes are not audio. `looks_like` says what they resemble, e.g. "the first
    /// bytes look like a text file".
    #[error("container stream: not a supported audio format ({looks_like})")]
    NotAudio { looks_like: String },

    /// Audio or media in a container this crate does not stream (WebM, M4A, ...).
    #[error(
        "container stream: {format} is not supported for streaming (send WAV, FLAC, Ogg/Vorbis \
         or MP3)"
    )]
    UnsupportedFormat { format: String },

    /// The container is supported but the codec inside it is not (e.g. Opus in Ogg).
    #[error("container stream: unsupported codec {codec} inside the {format} container")]
    UnsupportedCodec { format: AudioFormat, codec: String },

    /// The stream ended before enough bytes arrived to tell its format.
    #[error("container stream: the stream ended after {bytes} bytes, before its format was recognisable")]
    TooShort { bytes: u64 },

    /// The stream ended inside its container header, before any audio could be decoded.
    #[error("container stream: truncated {format} stream: {detail}")]
    Truncated { format: AudioFormat, detail: String },

    /// The container or a packet inside it is malformed; `detail` names the place.
    #[error("container stream: corrupt {format} stream: {detail}")]
    Corrupt { format: AudioFormat, detail: String },

    /// The stream declares a sample rate or channel count outside what this crate accepts.
    #[error("container stream: unusable {format} audio parameters: {problem}")]
    BadParameters {
        format: AudioFormat,
        problem: ParamsError,
    },

    /// More than `limit` bytes arrived without any of them becoming audio (a huge header,
    /// or data the decoder keeps skipping). Nothing past the limit is buffered.
    #[error("container stream: more than {} buffered without decodable audio", ByteCount(*.limit))]
    TooMuchBuffered { limit: u64 },

    /// The decoder library panicked on this input; the panic was contained.
    #[error("container stream: the {format} decoder failed on malformed data")]
    DecoderPanicked { format: AudioFormat },

    /// The decoder thread did not answer in time (a decoder bug, not bad audio). Its thread is
    /// abandoned.
    #[error("container stream: the decoder did not answer within {secs} s")]
    Stalled { secs: u64 },

    /// The decoder thread could not be started, or ended without saying why.
    #[error("container stream: decoder thread failed: {cause}")]
    Thread { cause: String },

    /// [`push`](crate::ContainerStream::push) was called after
    /// [`finish`](crate::ContainerStream::finish) (a bug in the caller).
    #[error("container stream: bytes pushed after the stream was finished")]
    AfterFinish,
}

impl StreamDecodeError {
    /// The client-visible code for this error (the gateway maps it to WebSocket close codes).
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NotAudio { .. }
            | Self::UnsupportedFormat { .. }
            | Self::UnsupportedCodec { .. } => ErrorCode::UnsupportedMediaType,
            Self::TooShort { .. }
            | Self::Truncated { .. }
            | Self::Corrupt { .. }
            | Self::BadParameters { .. }
            | Self::TooMuchBuffered { .. }
            | Self::DecoderPanicked { .. } => ErrorCode::InvalidAudio,
            Self::Stalled { .. } | Self::Thread { .. } | Self::AfterFinish => ErrorCode::Internal,
        }
    }
}

/// A byte count for messages: `16 MiB`, `64 KiB` or `1000 bytes`.
struct ByteCount(u64);

impl std::fmt::Display for ByteCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const KIB: u64 = 1024;
        const MIB: u64 = 1024 * 1024;
        match self.0 {
            n if n >= MIB && n % MIB == 0 => write!(f, "{} MiB", n / MIB),
            n if n >= KIB && n % KIB == 0 => write!(f, "{} KiB", n / KIB),
            n => write!(f, "{n} bytes"),
        }
    }
}
