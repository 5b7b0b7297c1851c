//! Streaming decode of one audio file that arrives in pieces (`encoding=container`, PROTOCOL.md
//! §1): the binary messages of a bot, concatenated, are one WAV, FLAC, Ogg/Vorbis or MP3 stream —
//! typically ffmpeg's output on a pipe. [`ContainerStream`] takes the pieces and gives back
//! 16 kHz mono samples as soon as they are decodable.
//!
//! # Design
//!
//! **A decoder thread per stream.** symphonia's format readers pull bytes through `Read` and
//! cannot be suspended in the middle of a packet, so they run on a dedicated thread
//! (`container-dec`) over a reader that blocks until the next chunk arrives. The alternative,
//! re-parsing from the start whenever a push might complete a packet, would keep every byte and
//! cost quadratic time. The thread keeps symphonia's own state and never more than one push of
//! bytes in flight.
//!
//! **Synchronous hand-over.** [`push`](ContainerStream::push) hands the bytes to the thread and
//! waits until the reader has consumed all of them and is about to block: the samples returned
//! are everything decodable from the bytes so far, deterministically, not whatever happened to be
//! ready. `push` therefore blocks for the decoding of those bytes (well under a millisecond per
//! 20 ms of audio); call it off the async runtime (`spawn_blocking`), like all decoding.
//!
//! **Format by content.** Bytes are held until they are enough to tell the format (16 bytes; a
//! whole leading ID3v2 tag; two MPEG frame headers; for WAV the header up to the `data` chunk),
//! then judged with [`sniff`](crate::sniff). WebM (usually Opus inside) and anything else are
//! refused with what the bytes look like. Ogg with Opus, Speex or no audio is refused once its
//! header pages are in (symphonia 0.5 has no Opus decoder).
//!
//! **Framing checked as it arrives.** symphonia resynchronises silently past damaged Ogg pages
//! and junk between MP3 frames; a live stream would swallow garbage without a word. Ogg pages
//! (checksum included) and MP3 frames are walked on the caller's thread before the decoder sees
//! them, so damage is an error naming the byte. The walk also finds where the audio ends (Ogg
//! end-of-stream, an ID3v1/APE tag or zero padding after MP3 frames, the declared end of WAV data)
//! and drops what follows. FLAC frames have no length field; a FLAC stream that goes on for more
//! than twice its largest possible frame without a valid one is corrupt.
//!
//! **WAV of unknown length.** Writers that cannot seek back (ffmpeg, sox on a pipe) leave 0 or
//! 0xFFFFFFFF as the RIFF and `data` sizes. symphonia stops at once on a zero `data` size and
//! refuses a RIFF size smaller than its chunks, so such sizes are rewritten to 0xFFFFFFFF (the
//! spelling symphonia reads to the end of the stream) before it sees the header.
//!
//! **Bounded memory.** At most [`ContainerLimits::max_undecoded_bytes`] (16 MiB by default) may
//! be consumed without a packet of audio coming out — a huge header or tag, or data the decoder
//! keeps skipping; past that the stream fails. Besides that only one push, one Ogg page
//! (< 64 KiB) or one MPEG frame is ever held.
//!
//! **Ends and cuts.** At [`finish`](ContainerStream::finish) the decoder drains what is left and
//! the resampler is flushed. A stream cut in the middle of a packet — a bot stopping mid-write is
//! the normal end of a live stream — gives everything up to the last whole packet; the cut packet
//! is dropped without an error. A stream that ends before its header is complete is an error
//! ([`StreamDecodeError::Truncated`] or [`StreamDecodeError::TooShort`]).
//!
//! **Failure.** Every error names the problem (and the byte, when known) and never carries audio.
//! A panic inside symphonia is caught on the decoder thread and becomes
//! [`StreamDecodeError::DecoderPanicked`]. After an error the stream is dead and returns the same
//! error again. Dropping the stream at any point closes the thread's input, which ends its next
//! read, and joins it.

mod framing;
mod head;
mod reader;
mod worker;

use std::time::Duration;

use crate::error::StreamDecodeError;
use crate::sniff::{id3v2_len, AudioFormat};
use framing::Framing;
use head::Start;
use worker::{Job, Worker};

/// Limits of one [`ContainerStream`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContainerLimits {
    /// Most bytes the stream may run without any of them becoming audio: the header before the
    /// first packet, or data the decoder cannot use. Nothing past it is buffered. Default 16 MiB.
    pub max_undecoded_bytes: u64,
    /// Longest a `push` or `finish` waits for the decoder thread before giving up on it (a decoder
    /// bug, not slow audio). Default 60 s.
    pub decoder_timeout: Duration,
}

impl Default for ContainerLimits {
    fn default() -> Self {
        Self {
            max_undecoded_bytes: 16 * 1024 * 1024,
            decoder_timeout: Duration::from_secs(60),
        }
    }
}

impl ContainerLimits {
    /// These limits with `bytes` as [`max_undecoded_bytes`](Self::max_undecoded_bytes).
    pub fn with_max_undecoded_bytes(mut self, bytes: u64) -> Self {
        self.max_undecoded_bytes = bytes;
        self
    }

    /// These limits with `timeout` as [`decoder_timeout`](Self::decoder_timeout).
    pub fn with_decoder_timeout(mut self, timeout: Duration) -> Self {
        self.decoder_timeout = timeout;
        self
    }
}

/// The audio parameters of a container stream, as its header declares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceParams {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count (downmixed to mono on the way out).
    pub channels: usize,
}

/// One audio file arriving in pieces, decoded and resampled to 16 kHz mono as it comes.
///
/// ```no_run
/// use audio_ingest::{ContainerLimits, ContainerStream};
///
/// # fn messages() -> Vec<Vec<u8>> { Vec::new() }
/// let mut stream = ContainerStream::new(ContainerLimits::default());
/// let mut audio = Vec::new();
/// for message in messages() {
///     audio.extend(stream.push(&message)?); // samples as soon as they are decodable
/// }
/// audio.extend(stream.finish()?); // the decoder's and resampler's tail
/// # Ok::<(), audio_ingest::StreamDecodeError>(())
/// ```
///
/// See the [module documentation](crate::container) for the design, limits and how ends are handled.
/// `push` and `finish` block while the decoder thread works on the bytes: call them off the
/// async runtime.
pub struct ContainerStream {
    limits: ContainerLimits,
    state: State,
    format: Option<AudioFormat>,
    params: Option<SourceParams>,
    span: tracing::Span,
}

enum State {
    /// Bytes held until the format (for WAV, the whole header) is known.
    Head(Vec<u8>),
    Decoding {
        framing: Framing,
        worker: Worker,
    },
    /// The audio has ended and the decoder thread is gone; later bytes are checked (a chained
    /// Ogg stream is refused) and dropped.
    Drained {
        framing: Framing,
    },
    Finished,
    Failed(StreamDecodeError),
}

impl std::fmt::Debug for ContainerStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Head(head) => format!("head ({} bytes)", head.len()),
            State::Decoding { .. } => "decoding".into(),
            State::Drained { .. } => "drained".into(),
            State::Finished => "finished".into(),
            State::Failed(e) => format!("failed: {e}"),
        };
        f.debug_struct("ContainerStream")
            .field("format", &self.format)
            .field("params", &self.params)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl ContainerStream {
    /// A stream that has received nothing yet. Cheap: the decoder thread starts once the format
    /// is known. The current tracing span is carried onto that thread.
    pub fn new(limits: ContainerLimits) -> Self {
        Self {
            limits,
            state: State::Head(Vec::new()),
            format: None,
            params: None,
            span: tracing::Span::current(),
        }
    }

    /// The container format, once the first bytes have been recognised.
    pub fn format(&self) -> Option<AudioFormat> {
        self.format
    }

    /// The source's sample rate and channel count, once its header has been read.
    pub fn params(&self) -> Option<SourceParams> {
        self.params
    }

    /// Adds the next bytes of the stream and returns the 16 kHz mono samples that became
    /// decodable (often none: a partial header, packet or resampler block waits for more).
    ///
    /// On error the stream is dead: this and every later call return the same error.
    /// Pushing after [`finish`](Self::finish) is [`StreamDecodeError::AfterFinish`].
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<f32>, StreamDecodeError> {
        let result = self.push_inner(bytes);
        if let Err(e) = &result {
            self.state = State::Failed(e.clone());
        }
        result
    }

    /// Ends the stream: decodes what is left, flushes the resampler and returns the last samples.
    /// The decoder thread is gone when this returns.
    ///
    /// A stream cut in the middle of a packet is not an error (the cut packet is dropped); one
    /// that ends before its format or header is complete is. Calling it again returns nothing.
    pub fn finish(&mut self) -> Result<Vec<f32>, StreamDecodeError> {
        let result = self.finish_inner();
        self.state = match &result {
            Ok(_) => State::Finished,
            Err(e) => State::Failed(e.clone()),
        };
        result
    }

    fn push_inner(&mut self, bytes: &[u8]) -> Result<Vec<f32>, StreamDecodeError> {
        match &mut self.state {
            State::Failed(e) => Err(e.clone()),
            State::Finished => Err(StreamDecodeError::AfterFinish),
            State::Head(head) => {
                head.extend_from_slice(bytes);
                match head::recognise(head, false, self.limits.max_undecoded_bytes)? {
                    None => Ok(Vec::new()),
                    Some(start) => {
                        let head = std::mem::take(head);
                        self.start(start, head, false)
                    }
                }
            }
            State::Decoding { .. } => self.feed(bytes, false),
            State::Drained { framing } => {
                framing.feed(bytes, &mut Vec::new())?;
                Ok(Vec::new())
            }
        }
    }

    fn finish_inner(&mut self) -> Result<Vec<f32>, StreamDecodeError> {
        match &mut self.state {
            State::Failed(e) => Err(e.clone()),
            State::Finished | State::Drained { .. } => Ok(Vec::new()),
            State::Head(head) => {
                let head = std::mem::take(head);
                match head::recognise(&head, true, self.limits.max_undecoded_bytes)? {
                    Some(start) => self.start(start, head, true),
                    // `recognise` at the end never asks for more bytes.
                    None => Err(StreamDecodeError::TooShort {
                        bytes: head.len() as u64,
                    }),
                }
            }
            State::Decoding { .. } => self.feed(&[], true),
        }
    }

    /// The format is known: patch a WAV header, start the decoder thread and feed it the head.
    fn start(
        &mut self,
        start: Start,
        mut head: Vec<u8>,
        at_end: bool,
    ) -> Result<Vec<f32>, StreamDecodeError> {
        let format = start.format;
        self.format = Some(format);
        let wav_end = match &start.wav {
            Some(wav) => {
                head::patch_wav_sizes(&mut head, wav);
                wav.data_len.map(|len| wav.data_start as u64 + len)
            }
            None => None,
        };
        let framing = Framing::new(format, wav_end, id3v2_len(&head).unwrap_or(0));
        let job = Job {
            format,
            wav_tag: start.wav.map(|wav| wav.tag),
            max_undecoded: self.limits.max_undecoded_bytes,
            span: self.span.clone(),
        };
        let worker = Worker::spawn(job, self.limits.decoder_timeout)?;
        tracing::debug!(parent: &self.span, %format, "container stream recognised");
        self.state = State::Decoding { framing, worker };
        self.feed(&head, at_end)
    }

    /// Checks the framing of `bytes`, hands the audio part to the decoder thread and collects
    /// what it decoded.
    fn feed(&mut self, bytes: &[u8], at_end: bool) -> Result<Vec<f32>, StreamDecodeError> {
        let State::Decoding { framing, worker } = &mut self.state else {
            return Ok(Vec::new());
        };
        let mut forward = Vec::with_capacity(bytes.len());
        let mut ended = framing.feed(bytes, &mut forward)?;
        if at_end {
            framing.flush(&mut forward);
            ended = true;
        }
        let round = worker.exchange(forward, ended)?;
        if let Some(params) = round.params {
            self.params = Some(params);
        }
        if round.done {
            // The thread has ended (and been joined); keep only the framing for what follows.
            if let State::Decoding { framing, .. } =
                std::mem::replace(&mut self.state, State::Finished)
            {
                self.state = State::Drained { framing };
            }
        }
        Ok(round.audio)
    }
}
