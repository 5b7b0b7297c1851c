//! Test doubles for the streaming core: a detector that hears tones, a script of words laid out
//! as tone bursts, a fake engine that "recognises" the words inside the audio it is given (with
//! Whisper's habits, on demand), and a driver that plays a scheduler.

use std::collections::{HashMap, HashSet};

use scribe_core::{Segment, Transcript, Word};

use super::hypothesis::normalize;
use super::vad::{VoiceDetector, VAD_FRAME_SAMPLES};
use super::{
    DecodeRequest, RequestId, SegmentId, SessionStart, StreamConfig, StreamSession, Update,
    SAMPLES_PER_MS,
};

/// Speech is any frame with RMS above 0.05 (tones are 0.3, "noise" below 0.01).
pub struct ToneVad;

impl VoiceDetector for ToneVad {
    fn score(&mut self, frame: &[f32; VAD_FRAME_SAMPLES]) -> f32 {
        let e = frame.iter().map(|s| s * s).sum::<f32>() / VAD_FRAME_SAMPLES as f32;
        if e.sqrt() > 0.05 {
            1.0
        } else {
            0.0
        }
    }

    fn reset(&mut self) {}
}

/// One spoken word at its true stream time.
#[derive(Clone)]
pub struct Spoken {
    pub word: String,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// Audio and the words in it: speech runs of `words_per_run` words (300 ms each, 100 ms apart)
/// separated by `pause_ms` of silence, starting after `lead_ms` of silence.
pub struct Script {
    pub audio: Vec<f32>,
    pub words: Vec<Spoken>,
}

pub fn script(runs: usize, words_per_run: usize, pause_ms: u64, lead_ms: u64) -> Script {
    let mut words = Vec::new();
    let mut t = lead_ms;
    let mut n = 0;
    for _ in 0..runs {
        for _ in 0..words_per_run {
            words.push(Spoken {
                word: format!("w{n}"),
                start_ms: t,
                end_ms: t + 300,
            });
            n += 1;
            t += 400;
        }
        t += pause_ms - 100;
    }
    let total = (t + 500) * SAMPLES_PER_MS;
    let mut audio = vec![0.0f32; total as usize];
    for w in &words {
        let (a, b) = (w.start_ms * SAMPLES_PER_MS, w.end_ms * SAMPLES_PER_MS);
        for i in a..b {
            audio[i as usize] = 0.3 * (i as f32 * 0.1).sin().signum();
        }
    }
    Script { audio, words }
}

/// What the fake engine gets wrong, deterministically by call number.
#[derive(Clone, Copy, Default)]
pub struct Habits {
    /// Re-case and re-punctuate words on odd calls ("W3," for "w3").
    pub repunctuate: bool,
    /// A word cut by the audio end comes out garbled ("w7" → "x7").
    pub garble_cut_word: bool,
    /// Every `n`th call returns nothing.
    pub empty_every: Option<u64>,
    /// Every `n`th call loses its last two words.
    pub shrink_every: Option<u64>,
    /// Append a three-word phrase loop after the last word.
    pub loop_tail: bool,
    /// Return different words every call (never agrees with itself).
    pub babble: bool,
}

/// Returns the script words inside the request's audio, timed from its start.
pub struct FakeEngine {
    words: Vec<Spoken>,
    origin_ms: u64,
    habits: Habits,
    pub calls: u64,
    pub prompts: Vec<Option<String>>,
    pub audio_ms: Vec<u64>,
}

impl FakeEngine {
    pub fn new(words: Vec<Spoken>, origin_ms: u64, habits: Habits) -> Self {
        Self {
            words,
            origin_ms,
            habits,
            calls: 0,
            prompts: Vec::new(),
            audio_ms: Vec::new(),
        }
    }

    pub fn transcribe(&mut self, req: &DecodeRequest) -> Transcript {
        self.calls += 1;
        let call = self.calls;
        self.prompts.push(req.prompt.clone());
        let len_ms = req.audio.samples.len() as u64 / SAMPLES_PER_MS;
        self.audio_ms.push(len_ms);
        assert!(
            req.audio.samples.iter().any(|s| s.abs() > 0.05),
            "a request of pure silence reached the engine"
        );
        let (from, to) = (req.start_ms, req.start_ms + len_ms);
        let mut out = Vec::new();
        for w in &self.words {
            let (s, e) = (w.start_ms + self.origin_ms, w.end_ms + self.origin_ms);
            if s < from || s >= to {
                continue;
            }
            let mut text = w.word.clone();
            if e > to && self.habits.garble_cut_word {
                text = text.replacen('w', "x", 1);
            }
            if self.habits.repunctuate && call % 2 == 1 {
                text = format!("{}{},", text[..1].to_uppercase(), &text[1..]);
            }
            if self.habits.babble {
                text = format!("b{call}_{}", out.len());
            }
            out.push(Word {
                word: text,
                start_ms: s - from,
                end_ms: e.min(to) - from,
                confidence: 0.9,
            });
        }
        if self
            .habits
            .empty_every
            .is_some_and(|n| call.is_multiple_of(n))
        {
            out.clear();
        }
        if self
            .habits
            .shrink_every
            .is_some_and(|n| call.is_multiple_of(n))
        {
            out.truncate(out.len().saturating_sub(2));
        }
        if self.habits.loop_tail && out.len() >= 3 {
            let end = out.last().map_or(0, |w| w.end_ms);
            for (i, t) in ["and", "so", "on", "and", "so", "on"].iter().enumerate() {
                out.push(Word {
                    word: (*t).into(),
                    start_ms: end,
                    end_ms: end + i as u64,
                    confidence: 0.5,
                });
            }
        }
        Transcript {
            segments: vec![Segment {
                start_ms: 0,
                end_ms: len_ms,
                text: String::new(),
                words: out,
            }],
            language: "en".into(),
            duration_ms: len_ms,
        }
    }
}

/// Plays a scheduler: pushes audio in chunks and answers requests, after `delay_chunks` pushes
/// (0 = at once), recording every update and checking the output contract as it goes.
pub struct Driver {
    pub session: StreamSession,
    pub engine: FakeEngine,
    pub delay_chunks: usize,
    pub finals: Vec<(SegmentId, Vec<Word>)>,
    pub partial: HashMap<SegmentId, String>,
    pub requests: u64,
    pub utterance_ends: usize,
    pending: Option<(DecodeRequest, usize)>,
    final_ids: HashSet<SegmentId>,
    last_final_end: u64,
    last_committed_ms: u64,
}

impl Driver {
    pub fn new(config: StreamConfig, script_words: &[Spoken], habits: Habits) -> Self {
        Self::starting_at(config, script_words, habits, SessionStart::default())
    }

    pub fn starting_at(
        config: StreamConfig,
        script_words: &[Spoken],
        habits: Habits,
        start: SessionStart,
    ) -> Self {
        let origin = start.origin_ms;
        let session = StreamSession::with_detector(config, Box::new(ToneVad), start)
            .unwrap_or_else(|e| panic!("{e}"));
        Self {
            session,
            engine: FakeEngine::new(script_words.to_vec(), origin, habits),
            delay_chunks: 0,
            finals: Vec::new(),
            partial: HashMap::new(),
            requests: 0,
            utterance_ends: 0,
            pending: None,
            final_ids: HashSet::new(),
            last_final_end: 0,
            last_committed_ms: 0,
        }
    }

    pub fn push(&mut self, audio: &[f32], chunk: usize) {
        for c in audio.chunks(chunk.max(1)) {
            let u = self.session.push_audio(c);
            self.record(u);
            self.serve(false);
        }
    }

    pub fn finalize(&mut self) {
        let u = self.session.finalize();
        self.record(u);
        self.serve(false);
    }

    /// `finish`, then serve requests until the session is done.
    pub fn finish(&mut self) {
        let u = self.session.finish();
        self.record(u);
        self.drain();
        assert!(self.session.is_done());
    }

    /// Serves requests until none is due or in flight.
    pub fn drain(&mut self) {
        for _ in 0..10_000 {
            self.serve(true);
            if self.pending.is_none() && !self.session.wants_decode() {
                return;
            }
        }
        panic!("session never settled");
    }

    fn serve(&mut self, now: bool) {
        if let Some((req, wait)) = self.pending.take() {
            if wait == 0 || now {
                let t = self.engine.transcribe(&req);
                let u = self.session.apply(req.id, &t);
                self.record(u);
            } else {
                self.pending = Some((req, wait - 1));
                return;
            }
        }
        if let Some(req) = self.session.take_request() {
            self.requests += 1;
            assert!(
                self.session.take_request().is_none(),
                "two requests in flight"
            );
            if self.delay_chunks == 0 || now {
                let t = self.engine.transcribe(&req);
                let u = self.session.apply(req.id, &t);
                self.record(u);
            } else {
                self.pending = Some((req, self.delay_chunks));
            }
        }
    }

    pub fn apply_now(&mut self, id: RequestId, t: &Transcript) -> Update {
        self.session.apply(id, t)
    }

    /// Checks one update against the contract and records it.
    pub fn record(&mut self, u: Update) {
        for f in &u.finals {
            assert!(
                self.final_ids.insert(f.id),
                "final id {:?} sent twice",
                f.id
            );
            assert!(!f.segment.words.is_empty(), "empty final");
            assert!(
                f.segment.start_ms >= self.last_final_end,
                "final goes back in time"
            );
            for w in &f.segment.words {
                assert!(w.start_ms <= w.end_ms);
            }
            self.last_final_end = f.segment.end_ms;
            self.partial.remove(&f.id);
            self.finals.push((f.id, f.segment.words.clone()));
        }
        if let Some(p) = &u.partial {
            assert!(
                !self.final_ids.contains(&p.id),
                "partial {:?} revived after its final",
                p.id
            );
            if p.is_withdrawal() {
                self.partial.remove(&p.id);
            } else {
                self.partial.insert(p.id, p.segment.text.clone());
            }
            assert!(self.partial.len() <= 1, "two partials on screen");
        }
        if u.utterance_end.is_some() {
            self.utterance_ends += 1;
        }
        let c = self.session.committed_ms();
        assert!(c >= self.last_committed_ms, "committed audio went back");
        assert!(c <= self.session.received_ms());
        self.last_committed_ms = c;
    }

    /// Final words in order, normalised.
    pub fn final_words(&self) -> Vec<String> {
        self.finals
            .iter()
            .flat_map(|(_, ws)| ws.iter().map(|w| normalize(&w.word)))
            .collect()
    }

    pub fn final_word_list(&self) -> Vec<Word> {
        self.finals
            .iter()
            .flat_map(|(_, ws)| ws.iter().cloned())
            .collect()
    }
}

/// The script's words, normalised.
pub fn spoken(words: &[Spoken]) -> Vec<String> {
    words.iter().map(|w| normalize(&w.word)).collect()
}
