//! The live-stream segmenter with the real voice activity detector on real speech: LJ Speech
//! clips from `eval/dev` joined by 0.8–1.6 s gaps of silence or low noise. Every gap must end an
//! utterance, no speech may fall outside an utterance, and noise alone must never start one.

use std::path::PathBuf;

use audio_ingest::stream::{
    NeuralVad, SegmenterEvent, StreamConfig, UtteranceSegmenter, SAMPLES_PER_MS,
};

use crate::support::Rng;

/// `eval/dev` of the shared folder beside the repository.
fn eval_dev() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eval/dev")
}

/// The first `n` clips of `eval/dev`, 16 kHz mono.
fn clips(n: usize) -> Vec<Vec<f32>> {
    let dir = eval_dev();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (the shared eval folder)", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "flac"))
        .collect();
    paths.sort();
    paths
        .iter()
        .take(n)
        .map(|p| {
            audio_ingest::decode_file(p)
                .unwrap_or_else(|e| panic!("{e}"))
                .samples
        })
        .collect()
}

/// First and last sample of the frames within 40 dB of the clip's loudest 16 ms.
fn speech_span(clip: &[f32]) -> (usize, usize) {
    let energy: Vec<f32> = clip
        .chunks(256)
        .map(|c| c.iter().map(|s| s * s).sum::<f32>() / c.len() as f32)
        .collect();
    let peak = energy.iter().copied().fold(0.0, f32::max);
    let loud = |e: &f32| *e > peak * 1e-4;
    let first = energy.iter().position(loud).unwrap_or(0);
    let last = energy.iter().rposition(loud).unwrap_or(0);
    (first * 256, ((last + 1) * 256).min(clip.len()))
}

struct Stream {
    audio: Vec<f32>,
    /// Speech spans in samples.
    speech: Vec<(usize, usize)>,
}

/// Clips separated by gaps of 0.8–1.6 s; gaps are digital silence, or white noise at
/// `noise_dbfs` RMS when given (the noise then also runs under the speech).
fn stream(clips: &[Vec<f32>], noise_dbfs: Option<f32>, seed: u64) -> Stream {
    let mut rng = Rng::new(seed);
    let gap = |rng: &mut Rng| 12_800 + rng.below(12_800);
    let mut audio = vec![0.0f32; gap(&mut rng)];
    let mut speech = Vec::new();
    for clip in clips {
        let (a, b) = speech_span(clip);
        speech.push((audio.len() + a, audio.len() + b));
        audio.extend_from_slice(clip);
        audio.extend(std::iter::repeat_n(0.0, gap(&mut rng)));
    }
    if let Some(db) = noise_dbfs {
        // Uniform noise in [-1, 1] has RMS 1/√3.
        let amp = 10f32.powf(db / 20.0) * 3f32.sqrt();
        for s in &mut audio {
            let u = (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
            *s += amp * (2.0 * u - 1.0);
        }
    }
    Stream { audio, speech }
}

/// Utterances as (start, end) sample ranges of the audio they hold.
fn utterances(audio: &[f32]) -> Vec<(usize, usize)> {
    let mut seg = UtteranceSegmenter::new(&StreamConfig::default(), Box::new(NeuralVad::new()), 0);
    let mut out = Vec::new();
    let mut take = |events: Vec<SegmenterEvent>| {
        for e in events {
            if let SegmenterEvent::Ended { utterance, .. } = e {
                let a = utterance.start_sample() as usize;
                out.push((a, a + utterance.audio().len()));
            }
        }
    };
    // 20 ms chunks, as a bot sends them.
    for chunk in audio.chunks(320) {
        take(seg.push(chunk));
    }
    take(seg.finish());
    out
}

fn check(s: &Stream, label: &str) {
    let utts = utterances(&s.audio);
    let tolerance = 2 * 256; // a frame or two of onset/offset slack
                             // All speech is inside utterances (the pre-roll covers the onset).
    for (k, &(a, b)) in s.speech.iter().enumerate() {
        let covered = |i: usize| utts.iter().any(|&(x, y)| x <= i && i < y);
        assert!(
            covered(a),
            "{label}: clip {k} onset outside every utterance"
        );
        assert!(
            covered(b.saturating_sub(tolerance)),
            "{label}: clip {k} end outside every utterance"
        );
    }
    // Every gap ends an utterance: none spans from one clip into the next.
    for w in s.speech.windows(2) {
        let (end_a, start_b) = (w[0].1, w[1].0);
        assert!(
            !utts.iter().any(|&(x, y)| x < end_a && y > start_b),
            "{label}: an utterance runs across the gap at {} ms",
            end_a as u64 / SAMPLES_PER_MS
        );
    }
    // Boundaries fall in gaps: each utterance starts at most the pre-roll (plus slack) before
    // speech and ends at most the post-roll plus the silence that ended it after speech; none
    // holds only gap.
    for &(x, y) in &utts {
        let overlaps = s.speech.iter().any(|&(a, b)| x < b && y > a);
        assert!(
            overlaps,
            "{label}: an utterance at {} ms holds no speech",
            x as u64 / SAMPLES_PER_MS
        );
    }
    // Clips have pauses of their own, but far fewer utterances than clips twice over.
    assert!(
        utts.len() >= s.speech.len() && utts.len() <= s.speech.len() * 3 / 2,
        "{label}: {} utterances for {} clips",
        utts.len(),
        s.speech.len()
    );
}

#[test]
fn utterance_boundaries_fall_in_the_gaps_between_real_sentences() {
    let clips = clips(12);
    check(&stream(&clips, None, 1), "silence");
    check(&stream(&clips, Some(-50.0), 2), "white noise at -50 dBFS");
}

#[test]
fn noise_alone_never_starts_an_utterance() {
    let mut rng = Rng::new(3);
    // 60 s of white noise at -45 dBFS, then 60 s of digital silence.
    let amp = 10f32.powf(-45.0 / 20.0) * 3f32.sqrt();
    let mut audio: Vec<f32> = (0..16_000 * 60)
        .map(|_| amp * (2.0 * ((rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32) - 1.0))
        .collect();
    audio.extend(std::iter::repeat_n(0.0, 16_000 * 60));
    assert_eq!(utterances(&audio), vec![]);
}
