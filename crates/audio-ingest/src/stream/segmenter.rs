//! Cuts a live 16 kHz stream into utterances with a voice activity detector.
//!
//! Audio arrives in chunks of any size and is scored in 16 ms frames. While the stream is
//! silent only the last pre-roll is kept; an utterance starts when `onset_frames` of the last
//! `onset_window_frames` frames are speech (its audio begins `preroll_ms` before the first of
//! them), grows while speech goes on, and ends after `end_silence_ms` of silence (trimmed to the
//! last voiced frame plus the post-roll), at `max_utterance_ms`, or when told to. An utterance
//! that reaches its maximum length is cut at the quietest moment of its last `max_carry_ms`
//! (a pause between words, by VAD score) and the audio after it carried into the next one.
//! Positions are integer sample counts from the start of the stream, so hours of audio never
//! drift.

use std::collections::VecDeque;

use super::utterance::Utterance;
use super::vad::{VoiceDetector, VAD_FRAME_SAMPLES};
use super::StreamConfig;

/// Why an utterance ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// `end_silence_ms` of silence followed the speech.
    Silence,
    /// The utterance reached `max_utterance_ms`.
    MaxLength,
    /// The client asked for it (`Finalize`).
    Finalize,
    /// The stream ended (`CloseStream`).
    Finish,
}

/// What happened to the stream during one call.
#[derive(Debug)]
pub enum SegmenterEvent {
    /// An utterance began at `start_sample`. `carried_samples` is the audio it takes over from
    /// an utterance cut at its maximum length (that one ends just before), else 0.
    Started {
        start_sample: u64,
        carried_samples: usize,
    },
    /// The open utterance now holds `len` samples (one event per `push`, at its end).
    Appended { len: usize },
    /// An utterance ended; the segmenter no longer holds it.
    Ended {
        utterance: Utterance,
        reason: EndReason,
    },
}

/// Turns pushed audio into utterances. One per stream; no threads, no clocks.
pub struct UtteranceSegmenter {
    vad: Box<dyn VoiceDetector>,
    preroll: usize,
    postroll: usize,
    end_silence_frames: usize,
    max_samples: usize,
    max_carry: usize,
    threshold: f32,
    onset_frames: u32,
    onset_window: usize,
    /// Samples of an incomplete frame, not yet scored.
    pending: Vec<f32>,
    /// Stream position of `pending[0]`: everything before it has been scored.
    position: u64,
    /// While idle: the most recent audio (pre-roll plus the onset window), ending at `position`.
    idle: VecDeque<f32>,
    /// Speech flags of the most recent idle frames, bit 0 the newest.
    recent: u64,
    current: Option<Utterance>,
    silent_run: usize,
    /// The previous frame inside the utterance was speech.
    last_voiced: bool,
    finished: bool,
}

impl UtteranceSegmenter {
    /// A segmenter for a stream whose first pushed sample is at stream position `origin`
    /// (0 for a new stream; the acknowledged position for a resumed one). `config` should have
    /// passed [`StreamConfig::validate`]; out-of-range values are clamped.
    pub fn new(config: &StreamConfig, vad: Box<dyn VoiceDetector>, origin: u64) -> Self {
        let onset_window = config.onset_window_frames.clamp(1, 64);
        Self {
            vad,
            preroll: StreamConfig::samples(config.preroll_ms),
            postroll: StreamConfig::samples(config.postroll_ms),
            end_silence_frames: StreamConfig::frames(config.end_silence_ms),
            max_samples: StreamConfig::samples(config.max_utterance_ms).max(VAD_FRAME_SAMPLES),
            max_carry: StreamConfig::samples(config.max_carry_ms),
            threshold: config.speech_threshold,
            onset_frames: config.onset_frames.clamp(1, onset_window) as u32,
            onset_window,
            pending: Vec::with_capacity(VAD_FRAME_SAMPLES),
            position: origin,
            idle: VecDeque::new(),
            recent: 0,
            current: None,
            silent_run: 0,
            last_voiced: true,
            finished: false,
        }
    }

    /// Feeds 16 kHz mono samples (any count, including zero). Non-finite samples become 0.
    /// After [`finish`](Self::finish) input is ignored.
    pub fn push(&mut self, samples: &[f32]) -> Vec<SegmenterEvent> {
        let mut events = Vec::new();
        if self.finished {
            return events;
        }
        let before = self
            .current
            .as_ref()
            .map(|u| (u.start_sample, u.audio.len()));
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (VAD_FRAME_SAMPLES - self.pending.len()).min(rest.len());
            let (head, tail) = rest.split_at(take);
            self.pending
                .extend(head.iter().map(|&s| if s.is_finite() { s } else { 0.0 }));
            rest = tail;
            if self.pending.len() == VAD_FRAME_SAMPLES {
                let mut frame = [0.0f32; VAD_FRAME_SAMPLES];
                frame.copy_from_slice(&self.pending);
                self.pending.clear();
                self.frame(&frame, VAD_FRAME_SAMPLES, &mut events);
            }
        }
        if let Some(u) = &self.current {
            if before != Some((u.start_sample, u.audio.len())) {
                events.push(SegmenterEvent::Appended { len: u.audio.len() });
            }
        }
        events
    }

    /// Ends the open utterance now (the client's `Finalize`); the stream goes on. Audio in an
    /// incomplete frame (under 16 ms) stays for the next utterance.
    pub fn finalize(&mut self) -> Vec<SegmenterEvent> {
        let mut events = Vec::new();
        self.end(EndReason::Finalize, &mut events);
        events
    }

    /// Ends the stream: scores the incomplete last frame (padded with silence), ends the open
    /// utterance and ignores any later input.
    pub fn finish(&mut self) -> Vec<SegmenterEvent> {
        let mut events = Vec::new();
        if self.finished {
            return events;
        }
        if !self.pending.is_empty() {
            let real = self.pending.len();
            let mut frame = [0.0f32; VAD_FRAME_SAMPLES];
            frame[..real].copy_from_slice(&self.pending);
            self.pending.clear();
            self.frame(&frame, real, &mut events);
        }
        self.end(EndReason::Finish, &mut events);
        self.finished = true;
        events
    }

    /// The open utterance, if speech is going on.
    pub fn current(&self) -> Option<&Utterance> {
        self.current.as_ref()
    }

    /// Every sample pushed so far, as a stream position (origin included).
    pub fn received_samples(&self) -> u64 {
        self.position + self.pending.len() as u64
    }

    /// Oldest stream position that may still become part of an utterance: the start of the
    /// open utterance, else the start of the pre-roll kept while idle.
    pub fn retained_from(&self) -> u64 {
        match &self.current {
            Some(u) => u.start_sample,
            None => self.position - self.idle.len() as u64,
        }
    }

    /// True once [`finish`](Self::finish) was called.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Scores one frame, of which the first `real` samples are audio (the rest padding).
    fn frame(
        &mut self,
        frame: &[f32; VAD_FRAME_SAMPLES],
        real: usize,
        events: &mut Vec<SegmenterEvent>,
    ) {
        let score = self.vad.score(frame);
        let audio = &frame[..real];
        if self
            .current
            .as_ref()
            .is_some_and(|u| u.audio.len() + real > self.max_samples)
        {
            self.cut(events);
        }
        self.position += real as u64;
        match &mut self.current {
            Some(u) => {
                u.audio.extend_from_slice(audio);
                u.frames.push((u.audio.len(), score));
                let voiced = score >= self.threshold;
                // One loud frame in a pause (a click, a noise burst) does not keep the
                // utterance open: speech goes on only with two speech frames in a row
                // (measured: it is what ends utterances in steady pink noise at −30 dBFS).
                if voiced && self.last_voiced {
                    u.voiced_end = u.audio.len();
                    u.voiced_samples += real;
                    self.silent_run = 0;
                } else {
                    self.silent_run += 1;
                }
                self.last_voiced = voiced;
                if self.silent_run >= self.end_silence_frames {
                    self.end(EndReason::Silence, events);
                }
            }
            None => self.idle_frame(audio, score >= self.threshold, events),
        }
    }

    fn idle_frame(&mut self, audio: &[f32], speech: bool, events: &mut Vec<SegmenterEvent>) {
        self.idle.extend(audio.iter().copied());
        let cap = self.preroll + self.onset_window * VAD_FRAME_SAMPLES;
        if self.idle.len() > cap {
            let excess = self.idle.len() - cap;
            self.idle.drain(..excess);
        }
        let window_mask = if self.onset_window >= 64 {
            u64::MAX
        } else {
            (1u64 << self.onset_window) - 1
        };
        self.recent = ((self.recent << 1) | u64::from(speech)) & window_mask;
        if self.recent.count_ones() < self.onset_frames {
            return;
        }
        // The oldest speech frame in the window marks the onset; the pre-roll goes before it.
        let frames_back = 64 - self.recent.leading_zeros() as usize;
        let onset_back = (frames_back - 1) * VAD_FRAME_SAMPLES + audio.len();
        let keep = (onset_back + self.preroll).min(self.idle.len());
        let skip = self.idle.len() - keep;
        let buffered: Vec<f32> = self.idle.drain(..).skip(skip).collect();
        let start_sample = self.position - buffered.len() as u64;
        let buffered_len = buffered.len();
        let voiced = self.recent.count_ones() as usize * VAD_FRAME_SAMPLES;
        self.recent = 0;
        self.silent_run = 0;
        self.last_voiced = true;
        self.current = Some(Utterance {
            start_sample,
            voiced_end: buffered.len(),
            voiced_samples: voiced,
            audio: buffered,
            postroll: self.postroll,
            carried: false,
            frames: vec![(buffered_len, 1.0)],
        });
        events.push(SegmenterEvent::Started {
            start_sample,
            carried_samples: 0,
        });
    }

    /// Ends the open utterance, trimming trailing silence; the trimmed audio becomes idle
    /// pre-roll (it is after the utterance, so never in two utterances).
    fn end(&mut self, reason: EndReason, events: &mut Vec<SegmenterEvent>) {
        let Some(mut utterance) = self.current.take() else {
            return;
        };
        let trailing = utterance.trim_to_decodable();
        self.idle.clear();
        let keep = trailing.len().min(self.preroll);
        self.idle.extend(&trailing[trailing.len() - keep..]);
        self.recent = 0;
        self.silent_run = 0;
        events.push(SegmenterEvent::Ended { utterance, reason });
    }

    /// Maximum length reached: cut at the quietest moment of the last `max_carry` samples,
    /// end the part before it and go on with the rest as a new (carried) utterance. Without a
    /// candidate (a tiny `max_carry`) the whole utterance ends and an empty one goes on.
    fn cut(&mut self, events: &mut Vec<SegmenterEvent>) {
        let Some(mut utterance) = self.current.take() else {
            return;
        };
        let len = utterance.audio.len();
        let at = quietest(&utterance.frames, len.saturating_sub(self.max_carry), len);
        let tail = utterance.audio.split_off(at);
        let frames: Vec<(usize, f32)> = utterance
            .frames
            .iter()
            .filter(|(end, _)| *end > at)
            .map(|&(end, score)| (end - at, score))
            .collect();
        utterance.frames.retain(|(end, _)| *end <= at);
        let tail_voiced_end = utterance.voiced_end.saturating_sub(at);
        utterance.voiced_end = utterance
            .frames
            .iter()
            .rev()
            .find(|(_, score)| *score >= self.threshold)
            .map_or(0, |(end, _)| *end)
            .min(at);
        utterance.trim_to_decodable();
        let next = Utterance {
            start_sample: utterance.start_sample + at as u64,
            voiced_end: tail_voiced_end,
            voiced_samples: tail.len(),
            carried: !tail.is_empty(),
            postroll: self.postroll,
            frames,
            audio: tail,
        };
        let (next_start, carried) = (next.start_sample, next.audio.len());
        self.current = Some(next);
        events.push(SegmenterEvent::Ended {
            utterance,
            reason: EndReason::MaxLength,
        });
        events.push(SegmenterEvent::Started {
            start_sample: next_start,
            carried_samples: carried,
        });
    }
}

/// Frames averaged when looking for the quietest moment (80 ms: a pause between words).
const QUIET_WINDOW: usize = 5;

/// The cut point (samples from the utterance start) in `lo..hi` at the middle of the
/// [`QUIET_WINDOW`] frames with the lowest mean VAD score, the latest on a tie; `hi` when no
/// window fits.
fn quietest(frames: &[(usize, f32)], lo: usize, hi: usize) -> usize {
    let mut best: Option<(f32, usize)> = None;
    for w in frames.windows(QUIET_WINDOW) {
        let (first_end, last_end) = (w[0].0, w[QUIET_WINDOW - 1].0);
        let mid = (first_end + last_end) / 2;
        if mid <= lo || mid >= hi {
            continue;
        }
        let mean = w.iter().map(|f| f.1).sum::<f32>() / QUIET_WINDOW as f32;
        if best.is_none_or(|(b, _)| mean <= b) {
            best = Some((mean, mid));
        }
    }
    best.map_or(hi, |(_, mid)| mid)
}

impl std::fmt::Debug for UtteranceSegmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UtteranceSegmenter")
            .field("position", &self.position)
            .field("current", &self.current)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}
