//! What a stream submits: audio to decode, how, and what to call with the result.

use std::sync::mpsc;
use std::time::Instant;

use scribe_core::{MonoAudio, Transcript};

use crate::{DecodeOptions, EngineError};

/// Whether a decode is a provisional look at a growing utterance or its final decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// A re-decode of the utterance so far. A newer submission of the same stream replaces it
    /// while it waits (only the newest audio of a growing utterance matters).
    Partial,
    /// The decode that ends an utterance. Never replaced or dropped while its stream is open;
    /// a stream's finals run in submission order.
    Final,
}

impl JobKind {
    /// `partial` or `final`, as used in metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Partial => "partial",
            Self::Final => "final",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Self::Partial => 0,
            Self::Final => 1,
        }
    }
}

/// What a job's submitter is told, exactly once per submitted job.
pub type JobResult = Result<Transcript, EngineError>;

/// Called once with the job's result, on a scheduler thread (or, for a job that is superseded
/// or cancelled, on the thread that caused it). It must return quickly and never block: send
/// the result into a channel (a `tokio::sync::oneshot`/`mpsc` sender works) and return.
pub type Completion = Box<dyn FnOnce(JobResult) + Send + 'static>;

/// A completion that sends into a std channel, for synchronous callers and tests:
/// `let (done, rx) = completion_channel(); handle.submit(job, done); rx.recv()`.
pub fn completion_channel() -> (Completion, mpsc::Receiver<JobResult>) {
    let (tx, rx) = mpsc::sync_channel(1);
    let done: Completion = Box::new(move |result| {
        // The receiver may be gone (caller gave up waiting): nothing to do then.
        let _ = tx.try_send(result);
    });
    (done, rx)
}

/// One piece of decoding work of one stream.
pub struct Job {
    pub kind: JobKind,
    /// 16 kHz mono audio: for streaming, the whole utterance so far.
    pub audio: MonoAudio,
    /// How to decode. The scheduler overrides `threads` (it owns the cores) and turns
    /// temperature fallback off unless its configuration allows it.
    pub options: DecodeOptions,
    /// When the oldest audio in `audio` that no completed decode of this stream (partial or
    /// final) has covered yet arrived at the server; `None` means the submission instant. It
    /// orders the queue (oldest audio first) and defines the stream's lag, so a caller that
    /// holds audio back before submitting should set it ([`Job::with_oldest_audio_at`]). For a
    /// final this is *not* the utterance start: audio a partial already covered has been
    /// shown, and counting it would make every long utterance look like lag.
    pub oldest_audio_at: Option<Instant>,
}

impl Job {
    /// A partial decode of `audio` (the utterance so far).
    pub fn partial(audio: MonoAudio, options: DecodeOptions) -> Self {
        Self::new(JobKind::Partial, audio, options)
    }

    /// The final decode of a finished utterance.
    pub fn utterance_final(audio: MonoAudio, options: DecodeOptions) -> Self {
        Self::new(JobKind::Final, audio, options)
    }

    fn new(kind: JobKind, audio: MonoAudio, options: DecodeOptions) -> Self {
        Self {
            kind,
            audio,
            options,
            oldest_audio_at: None,
        }
    }

    /// Sets when the oldest not-yet-decoded audio in this job arrived.
    pub fn with_oldest_audio_at(mut self, arrived: Instant) -> Self {
        self.oldest_audio_at = Some(arrived);
        self
    }
}

// The audio and the prompt (transcript text) must never reach a log line.
impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("kind", &self.kind)
            .field("duration_ms", &self.audio.duration_ms())
            .field("beam_size", &self.options.beam_size)
            .finish_non_exhaustive()
    }
}
