//! One live stream end to end, minus the engine: audio in, decode requests out, transcripts in,
//! final and partial segments out.
//!
//! The caller's loop:
//! ```text
//! update = session.push_audio(&samples)          // from StreamResampler
//! while let Some(req) = session.take_request() {  // or: if session.wants_decode() { … }
//!     transcript = engine.transcribe(&req.audio, prompt = req.prompt)   // anywhere, any thread
//!     update = session.apply(req.id, &transcript)
//! }
//! ```
//! At most one request is in flight per session, and every taken request must be answered with
//! [`apply`](StreamSession::apply) or [`decode_failed`](StreamSession::decode_failed). A request
//! is built when it is taken, from the newest audio: a scheduler that falls behind simply takes
//! fewer, larger steps, never a queue of stale ones. Utterances are transcribed in order; one
//! that ended waits for its final decode before the next one is decoded (its finals are the next
//! one's prompt).

use std::collections::VecDeque;

use scribe_core::{MonoAudio, Transcript};

use super::policy::{PolicyStart, StreamingPolicy};
use super::request::{DecodeRequest, RequestId};
use super::segmenter::{EndReason, SegmenterEvent, UtteranceSegmenter};
use super::update::{SegmentId, Update};
use super::utterance::Utterance;
use super::vad::{NeuralVad, VoiceDetector};
use super::{ConfigError, StreamConfig, SAMPLES_PER_MS};

/// How far before the end of its last final word the committed position stays: word timings
/// are rough, and a stream resumed from there re-hears at most this much of committed speech
/// (removed again as a repeat of the committed text) rather than lose the start of a word.
const ACK_MARGIN: u64 = 500 * SAMPLES_PER_MS;

/// Where a stream starts. A new stream uses the default; a resumed one continues at the
/// acknowledged audio time with the next segment id and the tail of its committed text.
#[derive(Clone, Default)]
pub struct SessionStart {
    /// Stream time of the first sample pushed, in ms.
    pub origin_ms: u64,
    pub first_segment_id: SegmentId,
    /// Committed text so far (only the last `context_chars` are kept).
    pub context: String,
}

/// The streaming core of one stream. Pure: no threads, no clocks, no I/O.
pub struct StreamSession {
    segmenter: UtteranceSegmenter,
    policy: StreamingPolicy,
    step: usize,
    min_voiced_ms: u64,
    /// Ended utterances whose last words are not final yet, oldest first.
    closing: VecDeque<Closing>,
    /// Bookkeeping of the segmenter's open utterance.
    open: Option<Open>,
    in_flight: Option<InFlight>,
    /// Utterance the policy is on.
    policy_key: Option<u64>,
    next_key: u64,
    next_request: u64,
    committed_sample: u64,
    /// A resumed stream: its first utterance may repeat the end of the committed text.
    resumed: bool,
}

struct Open {
    key: u64,
    start_sample: u64,
    carried: bool,
    /// Decodable length (samples) of the last request taken, and of the last one applied.
    requested: usize,
    applied: usize,
}

struct Closing {
    key: u64,
    carried: bool,
    utterance: Utterance,
    reason: EndReason,
    /// A request covering exactly this audio is in flight and will be taken as final.
    final_in_flight: bool,
}

struct InFlight {
    id: RequestId,
    key: u64,
    len: usize,
    is_final: bool,
}

impl StreamSession {
    /// A new stream with the neural VAD.
    pub fn new(config: StreamConfig) -> Result<Self, ConfigError> {
        Self::with_detector(config, Box::new(NeuralVad::new()), SessionStart::default())
    }

    /// A stream with any detector and start point (a resumed stream, or tests).
    pub fn with_detector(
        config: StreamConfig,
        vad: Box<dyn VoiceDetector>,
        start: SessionStart,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let origin = start.origin_ms.saturating_mul(SAMPLES_PER_MS);
        let resumed = origin > 0 || !start.context.is_empty();
        Ok(Self {
            segmenter: UtteranceSegmenter::new(&config, vad, origin),
            policy: StreamingPolicy::new(
                config.context_chars,
                PolicyStart {
                    first_id: start.first_segment_id,
                    context: start.context,
                },
            ),
            step: StreamConfig::samples(config.step_ms),
            min_voiced_ms: config.min_voiced_ms,
            closing: VecDeque::new(),
            open: None,
            in_flight: None,
            policy_key: None,
            next_key: 0,
            next_request: 0,
            committed_sample: origin,
            resumed,
        })
    }

    /// Feeds 16 kHz mono audio. Returns what became final or changed without a decode (an
    /// utterance whose last hypothesis already covered all its audio ends at once).
    pub fn push_audio(&mut self, samples: &[f32]) -> Update {
        let events = self.segmenter.push(samples);
        self.handle(events)
    }

    /// The client's `Finalize`: ends the current utterance now; its remaining words become
    /// final after one more decode (see [`take_request`](Self::take_request)).
    pub fn finalize(&mut self) -> Update {
        let events = self.segmenter.finalize();
        self.handle(events)
    }

    /// The client's `CloseStream`: no more audio. Keep serving requests until
    /// [`is_done`](Self::is_done); later audio is ignored.
    pub fn finish(&mut self) -> Update {
        let events = self.segmenter.finish();
        self.handle(events)
    }

    /// True when a decode is due and none is in flight.
    pub fn wants_decode(&self) -> bool {
        self.in_flight.is_none() && self.due().is_some()
    }

    /// Builds the request that is due, from the newest audio, and marks it in flight.
    pub fn take_request(&mut self) -> Option<DecodeRequest> {
        if self.in_flight.is_some() {
            return None;
        }
        let (key, is_final) = self.due()?;
        let (audio, start_sample) = if is_final {
            let c = self.closing.front()?;
            (c.utterance.audio().to_vec(), c.utterance.start_sample())
        } else {
            let u = self.segmenter.current()?;
            let len = u.decodable_len();
            (u.audio()[..len].to_vec(), u.start_sample())
        };
        if let Some(open) = self.open.as_mut().filter(|o| o.key == key && !is_final) {
            open.requested = audio.len();
        }
        let id = RequestId(self.next_request);
        self.next_request += 1;
        self.in_flight = Some(InFlight {
            id,
            key,
            len: audio.len(),
            is_final,
        });
        let prompt = self.policy.context();
        Some(DecodeRequest {
            id,
            prompt: (!prompt.is_empty()).then(|| prompt.to_owned()),
            start_ms: start_sample / SAMPLES_PER_MS,
            audio: MonoAudio::new(audio),
            is_final,
        })
    }

    /// The engine's transcript for request `id`. A result for an utterance that no longer
    /// needs it (cut, dropped) or an unknown id changes nothing.
    pub fn apply(&mut self, id: RequestId, transcript: &Transcript) -> Update {
        self.answer(id, Some(transcript))
    }

    /// The engine could not decode request `id`. A step is retried with newer audio; a final
    /// decode is given up and the last hypothesis' words are committed, so the stream goes on.
    pub fn decode_failed(&mut self, id: RequestId) -> Update {
        self.answer(id, None)
    }

    /// True after [`finish`](Self::finish) once every word is final and no request is out.
    pub fn is_done(&self) -> bool {
        self.segmenter.is_finished()
            && self.closing.is_empty()
            && self.open.is_none()
            && self.in_flight.is_none()
    }

    /// All audio received, in stream ms (origin included).
    pub fn received_ms(&self) -> u64 {
        self.segmenter.received_samples() / SAMPLES_PER_MS
    }

    /// Stream ms before which every word is final and no audio is needed again: what a bot
    /// may be acknowledged (and resume from). Inside an utterance it trails the last final
    /// word by half a second (word timings are rough); a session resumed there drops the
    /// repeated words. Never decreases.
    pub fn committed_ms(&self) -> u64 {
        self.committed_sample / SAMPLES_PER_MS
    }

    /// Stream time of the oldest speech whose transcript is not yet applied, if any: for
    /// oldest-first scheduling and lag (compare with when that audio arrived).
    pub fn oldest_undecoded_ms(&self) -> Option<u64> {
        if let Some(c) = self.closing.front() {
            return Some(c.utterance.start_ms());
        }
        let (open, u) = (self.open.as_ref()?, self.segmenter.current()?);
        (u.decodable_len() > open.applied)
            .then(|| (u.start_sample() + open.applied as u64) / SAMPLES_PER_MS)
    }

    /// Milliseconds of speech waiting for the engine (ended utterances plus the open one's
    /// undecoded part): a session whose backlog keeps growing is falling behind.
    pub fn backlog_ms(&self) -> u64 {
        let closing: usize = self.closing.iter().map(|c| c.utterance.audio().len()).sum();
        let open = match (&self.open, self.segmenter.current()) {
            (Some(o), Some(u)) => u.decodable_len().saturating_sub(o.applied),
            _ => 0,
        };
        (closing + open) as u64 / SAMPLES_PER_MS
    }

    /// The text the next decode is conditioned on (also carried by each request).
    pub fn context(&self) -> &str {
        self.policy.context()
    }

    /// The id the next new segment will get (for resuming a stream later).
    pub fn next_segment_id(&self) -> SegmentId {
        self.policy.next_id()
    }

    /// The utterance and kind of decode that is due, if any (ignoring what is in flight).
    fn due(&self) -> Option<(u64, bool)> {
        if let Some(c) = self.closing.front() {
            return (!c.final_in_flight).then_some((c.key, true));
        }
        let open = self.open.as_ref()?;
        let u = self.segmenter.current()?;
        let len = u.decodable_len();
        let grown = len >= open.requested + self.step;
        let enough_voice = open.carried || u.voiced_ms() >= self.min_voiced_ms;
        (grown && enough_voice).then_some((open.key, false))
    }

    fn answer(&mut self, id: RequestId, transcript: Option<&Transcript>) -> Update {
        let Some(f) = self.in_flight.take_if(|f| f.id == id) else {
            return Update::default();
        };
        if self.policy_key != Some(f.key) {
            return Update::default();
        }
        let mut update = Update::default();
        if f.is_final {
            let Some(c) = self.closing.pop_front() else {
                return update;
            };
            update.merge(self.policy.finish_utterance(
                transcript,
                c.utterance.audio().len(),
                c.reason,
            ));
            self.policy_key = None;
        } else if let Some(t) = transcript {
            update.merge(self.policy.hypothesis(t, f.len));
            if let Some(open) = self.open.as_mut().filter(|o| o.key == f.key) {
                open.applied = f.len;
            }
            // An utterance that ended while this was in flight: its final decode is due next.
        } else if let Some(open) = self.open.as_mut().filter(|o| o.key == f.key) {
            open.requested = open.applied;
        }
        self.settle();
        update
    }

    fn handle(&mut self, events: Vec<SegmenterEvent>) -> Update {
        let mut update = Update::default();
        for event in events {
            match event {
                SegmenterEvent::Started {
                    start_sample,
                    carried_samples,
                } => {
                    let key = self.next_key;
                    self.next_key += 1;
                    let carried = carried_samples > 0 || std::mem::take(&mut self.resumed);
                    self.open = Some(Open {
                        key,
                        start_sample,
                        carried,
                        requested: 0,
                        applied: 0,
                    });
                }
                SegmenterEvent::Appended { .. } => {}
                SegmenterEvent::Ended { utterance, reason } => {
                    update.merge(self.ended(utterance, reason));
                }
            }
            self.settle();
        }
        self.settle();
        update
    }

    /// An utterance ended: drop it, finish it now, or queue its final decode.
    fn ended(&mut self, utterance: Utterance, reason: EndReason) -> Update {
        let Some(open) = self.open.take() else {
            return Update::default();
        };
        let is_head = self.policy_key == Some(open.key);
        if open.requested == 0 && !open.carried && utterance.voiced_ms() < self.min_voiced_ms {
            // A click or a cough: never decoded, nothing to say.
            if is_head {
                self.policy_key = None;
                return self.policy.finish_utterance(None, 0, reason);
            }
            return Update::default();
        }
        let len = utterance.audio().len();
        let in_flight_covers = self
            .in_flight
            .as_mut()
            .filter(|f| f.key == open.key && f.len == len);
        let final_in_flight = match in_flight_covers {
            Some(f) => {
                f.is_final = true;
                true
            }
            None => false,
        };
        if is_head && !final_in_flight && open.applied == len && self.closing.is_empty() {
            // The last hypothesis saw all of this audio: its pending words are final now.
            self.policy_key = None;
            return self.policy.finish_utterance(None, len, reason);
        }
        self.closing.push_back(Closing {
            key: open.key,
            carried: open.carried,
            utterance,
            reason,
            final_in_flight,
        });
        Update::default()
    }

    /// Points the policy at the oldest unfinished utterance and refreshes the committed
    /// position.
    fn settle(&mut self) {
        let head = match (self.closing.front(), &self.open) {
            (Some(c), _) => Some((c.key, c.utterance.start_sample(), c.carried)),
            (None, Some(o)) => Some((o.key, o.start_sample, o.carried)),
            (None, None) => None,
        };
        if let Some((key, start, carried)) = head {
            if self.policy_key != Some(key) {
                self.policy.begin(start, carried);
                self.policy_key = Some(key);
            }
        }
        let committed = match head {
            Some((_, start, _)) => self
                .policy
                .committed_until()
                .map_or(start, |c| c.saturating_sub(ACK_MARGIN))
                .max(start),
            None if self.segmenter.is_finished() => self.segmenter.received_samples(),
            None => self.segmenter.retained_from(),
        };
        self.committed_sample = self.committed_sample.max(committed);
    }
}

impl std::fmt::Debug for StreamSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSession")
            .field("received_ms", &self.received_ms())
            .field("committed_ms", &self.committed_ms())
            .field("closing", &self.closing.len())
            .field("open", &self.open.is_some())
            .field("in_flight", &self.in_flight.as_ref().map(|f| f.id))
            .finish()
    }
}
