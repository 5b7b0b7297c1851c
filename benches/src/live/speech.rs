//! Where the utterances of the streamed audio are, found as the server finds them: the
//! streaming core's own segmenter and voice detector with the default settings (the server
//! under test runs the shipped configuration, which is the defaults). The wire has no utterance
//! id — a segment id lives from a partial to the final replacing it, and one utterance is
//! committed in several finals — so this is how messages are matched to utterances.

use audio_ingest::stream::{
    NeuralVad, SegmenterEvent, UtteranceSegmenter, VoiceDetector as _, VAD_FRAME_SAMPLES,
};
use audio_ingest::StreamConfig;
use serde::Serialize;

/// One utterance in stream milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Span {
    /// The segmenter's utterance, pre- and post-roll included.
    pub start_ms: u64,
    pub end_ms: u64,
    /// First and last voiced frame inside it: where its speech starts and ends.
    pub onset_ms: u64,
    pub voiced_end_ms: u64,
    /// It continues an utterance cut at the maximum length (its first words are not the start
    /// of anything a viewer waits for).
    pub carried: bool,
}

/// Finds the utterances of `samples` (16 kHz), pushing the audio in `chunk_ms` pieces as a bot
/// would send it.
pub fn utterances(samples: &[i16], chunk_ms: u64) -> Vec<Span> {
    let config = StreamConfig::default();
    let audio: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 32768.0).collect();

    // Per-frame speech scores, for the voiced extent of each utterance.
    let mut vad = NeuralVad::new();
    let scores: Vec<f32> = audio
        .chunks_exact(VAD_FRAME_SAMPLES)
        .map(|f| {
            let mut frame = [0.0f32; VAD_FRAME_SAMPLES];
            frame.copy_from_slice(f);
            vad.score(&frame)
        })
        .collect();

    let mut seg = UtteranceSegmenter::new(&config, Box::new(NeuralVad::new()), 0);
    let mut ended = Vec::new();
    let mut carried_starts = Vec::new();
    let chunk = (chunk_ms.max(1) * 16) as usize;
    let mut handle = |events: Vec<SegmenterEvent>| {
        for e in events {
            match e {
                SegmenterEvent::Started {
                    start_sample,
                    carried_samples,
                } if carried_samples > 0 => carried_starts.push(start_sample),
                SegmenterEvent::Ended { utterance, .. } => {
                    ended.push((utterance.start_sample(), utterance.end_sample()));
                }
                _ => {}
            }
        }
    };
    for piece in audio.chunks(chunk) {
        handle(seg.push(piece));
    }
    handle(seg.finish());

    let ms = |sample: u64| sample / 16;
    let frame_ms = |k: usize| ms((k * VAD_FRAME_SAMPLES) as u64);
    ended
        .into_iter()
        .map(|(start, end)| {
            let first = (start as usize).div_ceil(VAD_FRAME_SAMPLES);
            let last = (end as usize / VAD_FRAME_SAMPLES).min(scores.len());
            let voiced: Vec<usize> = (first..last)
                .filter(|&k| scores[k] >= config.speech_threshold)
                .collect();
            Span {
                start_ms: ms(start),
                end_ms: ms(end),
                onset_ms: voiced.first().map_or(ms(start), |&k| frame_ms(k)),
                voiced_end_ms: voiced.last().map_or(ms(end), |&k| frame_ms(k + 1)),
                carried: carried_starts.contains(&start),
            }
        })
        .collect()
}

/// The utterance holding stream time `ms`, else the nearest one within `slack_ms`.
pub fn utterance_at(spans: &[Span], ms: u64, slack_ms: u64) -> Option<usize> {
    if let Some(i) = spans.iter().position(|s| s.start_ms <= ms && ms < s.end_ms) {
        return Some(i);
    }
    spans
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                i,
                s.start_ms
                    .saturating_sub(ms)
                    .max(ms.saturating_sub(s.end_ms)),
            )
        })
        .filter(|&(_, d)| d <= slack_ms)
        .min_by_key(|&(_, d)| d)
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start_ms: u64, end_ms: u64) -> Span {
        Span {
            start_ms,
            end_ms,
            onset_ms: start_ms,
            voiced_end_ms: end_ms,
            carried: false,
        }
    }

    #[test]
    fn times_map_to_the_holding_or_nearest_utterance() {
        let spans = [span(1_000, 3_000), span(5_000, 6_000)];
        assert_eq!(utterance_at(&spans, 1_000, 500), Some(0));
        assert_eq!(utterance_at(&spans, 3_200, 500), Some(0));
        assert_eq!(utterance_at(&spans, 4_800, 500), Some(1));
        assert_eq!(utterance_at(&spans, 4_000, 500), None);
        assert_eq!(utterance_at(&spans, 9_000, 500), None);
    }

    #[test]
    fn silence_has_no_utterance_and_speech_does() {
        assert!(utterances(&vec![0i16; 16_000 * 3], 100).is_empty());
        let dir = crate::accuracy::repo_root().join("../shared/eval/dev");
        let Ok(audio) = audio_ingest::decode_file(&dir.join("ljspeech_LJ001-0002.flac")) else {
            return; // the evaluation audio is not here
        };
        let pcm: Vec<i16> = std::iter::repeat_n(0i16, 16_000)
            .chain(audio.samples.iter().map(|s| (s * 32767.0) as i16))
            .chain(std::iter::repeat_n(0i16, 16_000))
            .collect();
        let spans = utterances(&pcm, 100);
        assert!(!spans.is_empty());
        let first = spans[0];
        assert!(
            first.onset_ms >= 1_000 && first.onset_ms < 1_600,
            "{first:?}"
        );
        assert!(first.start_ms <= first.onset_ms && first.voiced_end_ms <= first.end_ms);
        assert!(!first.carried);
    }
}
