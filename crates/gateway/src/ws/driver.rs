//! The engine side of one bot stream: the streaming core ([`StreamSession`]) fed with 16 kHz
//! audio, its decode requests submitted to the shared [`Scheduler`] one at a time, results
//! applied as they come back. Async-friendly: results arrive on a channel the session loop
//! selects on; nothing here blocks.

use std::collections::VecDeque;
use std::time::Instant;

use audio_ingest::stream::{RequestId, SessionStart};
use audio_ingest::{
    ContainerLimits, ContainerStream, StreamConfig, StreamResampler, StreamSession, Update,
};
use scribe_protocol::{AudioParams, Encoding};
use speech_engine::scheduler::{streaming_options, JobResult};
use speech_engine::{Job, JobKind, StreamHandle};
use tokio::sync::mpsc;

/// A decode result on its way back to the session loop.
pub(crate) type DecodeDone = (RequestId, JobResult);

/// The bytes of a stream turned into 16 kHz mono samples.
pub(crate) enum AudioInput {
    /// PCM s16le at any accepted rate and channel count; a frame may span messages.
    Linear16 {
        resampler: StreamResampler,
        channels: usize,
        carry: Vec<u8>,
    },
    /// Bytes of one WAV/FLAC/Ogg/MP3 file arriving in pieces. Its decoder runs on its own
    /// thread and `push` waits for it, so the calls go through `spawn_blocking`. `None` only
    /// while a call is running or after a failure.
    Container(Option<Box<ContainerStream>>),
}

impl AudioInput {
    pub fn new(params: &AudioParams) -> Result<Self, String> {
        match params.encoding {
            Encoding::Linear16 => {
                let channels = usize::from(params.channels);
                let resampler = StreamResampler::new(params.sample_rate, channels)
                    .map_err(|e| e.to_string())?;
                Ok(Self::Linear16 {
                    resampler,
                    channels,
                    carry: Vec::new(),
                })
            }
            Encoding::Container => Ok(Self::Container(Some(Box::new(ContainerStream::new(
                ContainerLimits::default(),
            ))))),
        }
    }

    /// New 16 kHz mono samples from `bytes`.
    pub async fn push(&mut self, bytes: axum::body::Bytes) -> Result<Vec<f32>, String> {
        match self {
            Self::Container(slot) => {
                let mut stream = slot
                    .take()
                    .ok_or_else(|| "container stream: decoder unavailable".to_owned())?;
                let (stream, result) = tokio::task::spawn_blocking(move || {
                    let r = stream.push(&bytes);
                    (stream, r)
                })
                .await
                .map_err(|_| "container stream: decoder failed".to_owned())?;
                *slot = Some(stream);
                result.map_err(|e| e.to_string())
            }
            Self::Linear16 {
                resampler,
                channels,
                carry,
            } => {
                let frame = 2 * *channels;
                carry.extend_from_slice(&bytes);
                let whole = carry.len() - carry.len() % frame;
                let interleaved: Vec<f32> = carry[..whole]
                    .chunks_exact(2)
                    .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
                    .collect();
                carry.drain(..whole);
                Ok(resampler.push(&interleaved))
            }
        }
    }

    /// The samples still inside the decoder and resampler at the end of the stream.
    pub async fn finish(&mut self) -> Result<Vec<f32>, String> {
        match self {
            Self::Linear16 { resampler, .. } => Ok(resampler.finish()),
            Self::Container(slot) => {
                let Some(mut stream) = slot.take() else {
                    return Ok(Vec::new());
                };
                let (stream, result) = tokio::task::spawn_blocking(move || {
                    let r = stream.finish();
                    (stream, r)
                })
                .await
                .map_err(|_| "container stream: decoder failed".to_owned())?;
                *slot = Some(stream);
                result.map_err(|e| e.to_string())
            }
        }
    }
}

/// One stream's streaming core and its place in the scheduler.
pub(crate) struct Driver {
    session: StreamSession,
    handle: StreamHandle,
    results: mpsc::UnboundedSender<DecodeDone>,
    in_flight: Option<RequestId>,
    /// `(received_ms after a chunk, when it arrived)`, oldest first: maps stream time back to
    /// the wall clock for lag and oldest-audio-first scheduling.
    arrivals: VecDeque<(u64, Instant)>,
    language: String,
}

impl Driver {
    pub fn new(
        config: StreamConfig,
        start: SessionStart,
        handle: StreamHandle,
        language: String,
    ) -> Result<(Self, mpsc::UnboundedReceiver<DecodeDone>), String> {
        let session = StreamSession::with_detector(
            config,
            Box::new(audio_ingest::stream::NeuralVad::new()),
            start,
        )
        .map_err(|e| e.to_string())?;
        let (tx, rx) = mpsc::unbounded_channel();
        Ok((
            Self {
                session,
                handle,
                results: tx,
                in_flight: None,
                arrivals: VecDeque::new(),
                language,
            },
            rx,
        ))
    }

    /// Feeds 16 kHz samples that arrived at `now`.
    pub fn push_audio(&mut self, samples: &[f32], now: Instant) -> Update {
        let update = self.session.push_audio(samples);
        self.arrivals.push_back((self.session.received_ms(), now));
        update
    }

    /// The bot's `Finalize`.
    pub fn finalize(&mut self) -> Update {
        self.session.finalize()
    }

    /// The bot's `CloseStream` (after the last samples).
    pub fn finish(&mut self, last: &[f32], now: Instant) -> Update {
        let mut update = self.push_audio(last, now);
        update.merge(self.session.finish());
        update
    }

    /// Submits the due decode, if any and none is running.
    pub fn pump(&mut self) {
        if self.in_flight.is_some() {
            return;
        }
        let oldest = self.oldest_arrival();
        let Some(req) = self.session.take_request() else {
            return;
        };
        let kind = if req.is_final {
            JobKind::Final
        } else {
            JobKind::Partial
        };
        let mut options = streaming_options(kind);
        options.prompt = req.prompt;
        options.language = Some(self.language.clone());
        let mut job = Job {
            kind,
            audio: req.audio,
            options,
            oldest_audio_at: None,
        };
        if let Some(t) = oldest {
            job = job.with_oldest_audio_at(t);
        }
        let id = req.id;
        self.in_flight = Some(id);
        let tx = self.results.clone();
        self.handle.submit(
            job,
            Box::new(move |result| {
                // The session may be gone (disconnect): then nobody needs the result.
                let _ = tx.send((id, result));
            }),
        );
    }

    /// Applies a decode result.
    pub fn on_result(&mut self, id: RequestId, result: &JobResult) -> Update {
        if self.in_flight == Some(id) {
            self.in_flight = None;
        }
        let update = match result {
            Ok(transcript) => self.session.apply(id, transcript),
            Err(e) => {
                tracing::warn!(error = %e, "decode failed; the stream goes on");
                self.session.decode_failed(id)
            }
        };
        let committed = self.session.committed_ms();
        while self
            .arrivals
            .front()
            .is_some_and(|(ms, _)| *ms <= committed)
            && self.arrivals.len() > 1
        {
            self.arrivals.pop_front();
        }
        update
    }

    /// When the oldest audio still waiting for a decode arrived.
    fn oldest_arrival(&self) -> Option<Instant> {
        let oldest_ms = self.session.oldest_undecoded_ms()?;
        self.arrivals
            .iter()
            .find(|(ms, _)| *ms > oldest_ms)
            .map(|(_, t)| *t)
    }

    pub fn is_done(&self) -> bool {
        self.session.is_done()
    }

    pub fn received_ms(&self) -> u64 {
        self.session.received_ms()
    }

    pub fn committed_ms(&self) -> u64 {
        self.session.committed_ms()
    }

    /// Closes the stream in the scheduler once its queued work has run.
    pub fn into_finished(self) {
        self.handle.finish();
    }
}
