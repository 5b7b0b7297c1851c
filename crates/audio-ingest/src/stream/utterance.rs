//! One utterance: a run of speech with its pre-roll, as the segmenter cut it from the stream.

use super::SAMPLES_PER_MS;

/// The audio of one utterance and where it sits in the stream.
///
/// Holds what someone said, so its `Debug` shows only times and sizes.
pub struct Utterance {
    pub(crate) start_sample: u64,
    pub(crate) audio: Vec<f32>,
    /// End (exclusive, samples from `start_sample`) of the last frame that was not silence.
    pub(crate) voiced_end: usize,
    /// Samples of audio judged voiced (or carried over a cut, which was speech).
    pub(crate) voiced_samples: usize,
    /// Post-roll kept after `voiced_end` in what is decoded.
    pub(crate) postroll: usize,
    /// Continues an utterance that was cut at its maximum length.
    pub(crate) carried: bool,
    /// Per scored frame: its end (samples from `start_sample`) and VAD score. Where to cut a
    /// too-long utterance is chosen from these.
    pub(crate) frames: Vec<(usize, f32)>,
}

impl Utterance {
    /// Stream position of the first sample (pre-roll included), in samples.
    pub fn start_sample(&self) -> u64 {
        self.start_sample
    }

    /// Stream time of the first sample, in milliseconds.
    pub fn start_ms(&self) -> u64 {
        self.start_sample / SAMPLES_PER_MS
    }

    /// Stream position just after the last sample held, in samples.
    pub fn end_sample(&self) -> u64 {
        self.start_sample + self.audio.len() as u64
    }

    /// All audio held so far (may end in up to `end_silence_ms` of silence while open).
    pub fn audio(&self) -> &[f32] {
        &self.audio
    }

    /// How much of [`audio`](Self::audio) is worth decoding: up to the last voiced frame plus
    /// the post-roll. Trailing silence beyond that never reaches the engine.
    pub fn decodable_len(&self) -> usize {
        self.audio
            .len()
            .min(self.voiced_end.saturating_add(self.postroll))
    }

    /// Voiced audio in milliseconds.
    pub fn voiced_ms(&self) -> u64 {
        self.voiced_samples as u64 / SAMPLES_PER_MS
    }

    /// True when the utterance continues one that was cut at its maximum length.
    pub fn is_carried(&self) -> bool {
        self.carried
    }

    /// Drops trailing silence beyond the post-roll (done when the utterance ends).
    pub(crate) fn trim_to_decodable(&mut self) -> Vec<f32> {
        let keep = self.decodable_len();
        self.audio.split_off(keep)
    }
}

impl std::fmt::Debug for Utterance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Utterance")
            .field("start_sample", &self.start_sample)
            .field("samples", &self.audio.len())
            .field("voiced_end", &self.voiced_end)
            .field("carried", &self.carried)
            .finish()
    }
}
