//! The tunables of one live stream: VAD thresholds, utterance limits, decode step and prompt
//! length. All durations are milliseconds of audio; internally they become sample counts.

use super::{SAMPLES_PER_MS, VAD_FRAME_SAMPLES};

/// How a stream is cut into utterances and when its audio is decoded.
///
/// The defaults aim at the live-transcription targets (final words within ~1.5 s, the first
/// partial of an utterance within 1 s, finals as accurate as offline decoding); the reasoning is
/// given per field and in ARCHITECTURE.md.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamConfig {
    /// New speech (ms) an utterance must gain before it is decoded again. Smaller is lower
    /// latency for more engine work; a scheduler that falls behind decodes less often anyway
    /// (only the newest audio is ever decoded). Default 500.
    pub step_ms: u64,
    /// Audio kept before the detected speech onset so first phonemes are not clipped. Default 250.
    pub preroll_ms: u64,
    /// Audio kept after the last voiced frame: Whisper needs to hear a word end. Default 200.
    pub postroll_ms: u64,
    /// Silence that ends an utterance. Shorter than a sentence pause loses context, longer
    /// delays the last words of every utterance. Default 600.
    pub end_silence_ms: u64,
    /// Longest utterance. One that reaches it is cut at the quietest moment (a pause between
    /// words) of its last `max_carry_ms`, closed with a final decode, and the audio after the
    /// cut carried into the next utterance, so nothing is lost or decoded twice. Must fit one
    /// 30 s Whisper window; shorter keeps every re-decode cheap (the engine's work per step
    /// grows with it). Default 15 000.
    pub max_utterance_ms: u64,
    /// How far back from the maximum length the cut point is looked for. Default 5 000.
    pub max_carry_ms: u64,
    /// VAD score at or above which a frame counts as speech. Inside an utterance a single
    /// speech frame between silent ones does not count (a click must not keep it open).
    /// Default 0.5: earshot scores silence and steady noise around 0.2 (95th percentile below
    /// 0.4) and speech above 0.85 (`examples/vad_eval.rs`); a lower value kept utterances
    /// open through pauses in −30 dBFS pink noise.
    pub speech_threshold: f32,
    /// Speech frames (16 ms each) among the last `onset_window_frames` that start an utterance.
    /// Default 3.
    pub onset_frames: usize,
    /// Window for `onset_frames`. Default 5 (80 ms).
    pub onset_window_frames: usize,
    /// Utterances with less voiced audio than this (a click, a cough) are never decoded.
    /// Default 200.
    pub min_voiced_ms: u64,
    /// Characters of the stream's committed text the engine is conditioned on. Default 400
    /// (about 90 tokens; offline decoding conditions on up to 224): the prompt is what keeps
    /// a name spelt the same way all through a meeting. `examples/replay --modelled-cost` on
    /// eval/long: 21 word errors with 400 against 24 with 200 (at `--slowdown 2`: 21 against
    /// 23; 300 gave 22, 800 gave 23), for 5–8 % more decode time.
    pub context_chars: usize,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            step_ms: 500,
            preroll_ms: 250,
            postroll_ms: 200,
            end_silence_ms: 600,
            max_utterance_ms: 15_000,
            max_carry_ms: 5_000,
            speech_threshold: 0.5,
            onset_frames: 3,
            onset_window_frames: 5,
            min_voiced_ms: 200,
            context_chars: 400,
        }
    }
}

/// A [`StreamConfig`] that cannot work.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// `speech_threshold` is outside `0..=1`.
    #[error("speech_threshold must be between 0 and 1")]
    Threshold,
    /// `onset_frames` is zero or larger than `onset_window_frames`, or the window exceeds 64.
    #[error("onset_frames must be 1..=onset_window_frames and onset_window_frames at most 64")]
    Onset,
    /// `step_ms` or `end_silence_ms` is zero.
    #[error("step_ms and end_silence_ms must be positive")]
    ZeroDuration,
    /// `max_utterance_ms` is outside `2 × step_ms ..= 30 000` (one Whisper window).
    #[error("max_utterance_ms must be between twice step_ms and 30000")]
    MaxUtterance,
    /// `max_carry_ms` is over half of `max_utterance_ms` (an utterance must keep growing).
    #[error("max_carry_ms must be at most half of max_utterance_ms")]
    MaxCarry,
}

impl StreamConfig {
    /// Checks that the settings are consistent.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(0.0..=1.0).contains(&self.speech_threshold) {
            return Err(ConfigError::Threshold);
        }
        if self.onset_frames == 0
            || self.onset_frames > self.onset_window_frames
            || self.onset_window_frames > 64
        {
            return Err(ConfigError::Onset);
        }
        if self.step_ms == 0 || self.end_silence_ms == 0 {
            return Err(ConfigError::ZeroDuration);
        }
        if self.max_utterance_ms > 30_000 || self.max_utterance_ms < 2 * self.step_ms {
            return Err(ConfigError::MaxUtterance);
        }
        if self.max_carry_ms > self.max_utterance_ms / 2 {
            return Err(ConfigError::MaxCarry);
        }
        Ok(())
    }

    pub(crate) fn samples(ms: u64) -> usize {
        usize::try_from(ms.saturating_mul(SAMPLES_PER_MS)).unwrap_or(usize::MAX)
    }

    /// Whole VAD frames covering at least `ms` (at least one).
    pub(crate) fn frames(ms: u64) -> usize {
        Self::samples(ms).div_ceil(VAD_FRAME_SAMPLES).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(StreamConfig::default().validate(), Ok(()));
    }

    #[test]
    fn inconsistent_settings_are_refused() {
        let bad = |f: fn(&mut StreamConfig)| {
            let mut c = StreamConfig::default();
            f(&mut c);
            c.validate()
        };
        assert_eq!(
            bad(|c| c.speech_threshold = 1.5),
            Err(ConfigError::Threshold)
        );
        assert_eq!(
            bad(|c| c.speech_threshold = f32::NAN),
            Err(ConfigError::Threshold)
        );
        assert_eq!(bad(|c| c.onset_frames = 0), Err(ConfigError::Onset));
        assert_eq!(bad(|c| c.onset_frames = 9), Err(ConfigError::Onset));
        assert_eq!(bad(|c| c.step_ms = 0), Err(ConfigError::ZeroDuration));
        assert_eq!(
            bad(|c| c.max_utterance_ms = 40_000),
            Err(ConfigError::MaxUtterance)
        );
        assert_eq!(bad(|c| c.max_carry_ms = 9_000), Err(ConfigError::MaxCarry));
    }

    #[test]
    fn durations_become_samples_and_frames() {
        assert_eq!(StreamConfig::samples(1_000), 16_000);
        assert_eq!(StreamConfig::frames(600), 38); // 9 600 samples → 37.5 frames, rounded up
        assert_eq!(StreamConfig::frames(0), 1);
    }
}
