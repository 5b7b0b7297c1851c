//! The segmenter on synthetic tones: boundaries, pre-roll, trimming, cuts, exact positions.

use super::fake_engine::ToneVad;
use super::{EndReason, SegmenterEvent, StreamConfig, UtteranceSegmenter, SAMPLES_PER_MS};

/// A finished utterance: (start sample, samples, reason).
type Cut = (u64, Vec<f32>, EndReason);

fn ms(v: u64) -> usize {
    (v * SAMPLES_PER_MS) as usize
}

/// Tone bursts at `spans` (ms) in `total_ms` of silence; the tone is a ramp so every sample
/// differs (cuts can be checked sample by sample).
fn tones(spans: &[(u64, u64)], total_ms: u64) -> Vec<f32> {
    let mut audio = vec![0.0f32; ms(total_ms)];
    for &(a, b) in spans {
        for (i, s) in audio[ms(a)..ms(b)].iter_mut().enumerate() {
            *s = 0.2 + (i % 1_000) as f32 * 1e-4;
        }
    }
    audio
}

fn run(seg: &mut UtteranceSegmenter, audio: &[f32], chunk: usize) -> Vec<Cut> {
    let mut out = Vec::new();
    for c in audio.chunks(chunk) {
        collect(seg.push(c), &mut out);
    }
    collect(seg.finish(), &mut out);
    out
}

fn collect(events: Vec<SegmenterEvent>, out: &mut Vec<Cut>) {
    for e in events {
        if let SegmenterEvent::Ended { utterance, reason } = e {
            out.push((utterance.start_sample(), utterance.audio().to_vec(), reason));
        }
    }
}

fn segmenter(config: &StreamConfig, origin: u64) -> UtteranceSegmenter {
    UtteranceSegmenter::new(config, Box::new(ToneVad), origin)
}

#[test]
fn boundaries_do_not_depend_on_chunk_size() {
    let audio = tones(&[(1_000, 3_000), (4_000, 4_500), (6_000, 9_000)], 10_000);
    let config = StreamConfig::default();
    let reference = run(&mut segmenter(&config, 0), &audio, audio.len());
    assert_eq!(reference.len(), 3);
    for chunk in [1, 97, 256, 320, 5_000] {
        let got = run(&mut segmenter(&config, 0), &audio, chunk);
        let a: Vec<(u64, usize)> = got.iter().map(|c| (c.0, c.1.len())).collect();
        let b: Vec<(u64, usize)> = reference.iter().map(|c| (c.0, c.1.len())).collect();
        assert_eq!(a, b, "chunk {chunk}");
    }
}

#[test]
fn utterances_keep_pre_roll_and_post_roll_and_drop_the_rest_of_the_silence() {
    let audio = tones(&[(1_000, 3_000), (4_000, 5_000)], 7_000);
    let config = StreamConfig::default();
    let cuts = run(&mut segmenter(&config, 0), &audio, 320);
    assert_eq!(cuts.len(), 2);
    for (cut, (a, b)) in cuts.iter().zip([(1_000u64, 3_000u64), (4_000, 5_000)]) {
        let (start, samples, reason) = cut;
        assert_eq!(*reason, EndReason::Silence);
        // Starts 250 ms (plus less than a frame) before the speech.
        let lead = ms(a) as i64 - *start as i64;
        assert!(
            (ms(250) as i64..ms(250) as i64 + 256).contains(&lead),
            "{lead}"
        );
        // Ends 200 ms (plus less than a frame) after it.
        let end = *start as usize + samples.len();
        let tail = end as i64 - ms(b) as i64;
        assert!(
            (ms(200) as i64 - 256..=ms(200) as i64 + 256).contains(&tail),
            "{tail}"
        );
        // The samples are the stream's, unshifted.
        assert_eq!(samples[..], audio[*start as usize..end]);
    }
}

#[test]
fn pre_roll_never_reaches_into_the_stream_start_or_a_previous_utterance() {
    let config = StreamConfig::default();
    let audio = tones(&[(100, 1_000)], 2_000);
    let cuts = run(&mut segmenter(&config, 0), &audio, 320);
    assert_eq!(cuts[0].0, 0);
    // Finalize mid-speech, then speech goes on: the next utterance starts where it ended.
    let audio = tones(&[(500, 3_000)], 4_000);
    let mut seg = segmenter(&config, 0);
    let mut cuts = Vec::new();
    collect(seg.push(&audio[..ms(1_500)]), &mut cuts);
    collect(seg.finalize(), &mut cuts);
    assert_eq!(cuts[0].2, EndReason::Finalize);
    collect(seg.push(&audio[ms(1_500)..]), &mut cuts);
    collect(seg.finish(), &mut cuts);
    assert_eq!(cuts.len(), 2);
    let first_end = cuts[0].0 + cuts[0].1.len() as u64;
    assert!(cuts[1].0 >= first_end);
    assert!(
        cuts[1].0 - first_end < 256 * 4,
        "speech lost between utterances"
    );
}

#[test]
fn a_click_in_a_pause_does_not_keep_the_utterance_open() {
    let config = StreamConfig::default();
    // One 16 ms frame of tone every 400 ms of the pause.
    let mut spans = vec![(500, 2_000)];
    for k in 0..4 {
        let t = 2_400 + k * 400;
        spans.push((t, t + 16));
    }
    spans.push((5_000, 6_000));
    let audio = tones(&spans, 7_000);
    let cuts = run(&mut segmenter(&config, 0), &audio, 320);
    assert_eq!(cuts.len(), 2, "the clicks kept the first utterance open");
}

#[test]
fn max_length_without_a_pause_cuts_near_the_limit_and_goes_on() {
    let config = StreamConfig::default();
    let audio = tones(&[(500, 40_000)], 41_000);
    let cuts = run(&mut segmenter(&config, 0), &audio, 320);
    assert_eq!(cuts.len(), 3);
    assert_eq!(cuts[0].2, EndReason::MaxLength);
    assert_eq!(cuts[1].2, EndReason::MaxLength);
    assert_eq!(cuts[2].2, EndReason::Silence);
    for w in cuts.windows(2) {
        assert!(w[0].1.len() <= ms(15_000));
        // Contiguous: nothing lost, nothing twice.
        assert_eq!(w[0].0 + w[0].1.len() as u64, w[1].0);
    }
}

#[test]
fn max_length_cuts_in_the_last_pause_and_carries_the_rest() {
    let config = StreamConfig::default();
    // Speech from 0.5 s to 20 s with short pauses at 8 s and 12 s (the later one is in the
    // last 5 s before the 15 s limit, the earlier one is not).
    let audio = tones(&[(500, 8_000), (8_150, 12_000), (12_150, 20_000)], 21_000);
    let mut seg = segmenter(&config, 0);
    let mut events = Vec::new();
    for c in audio[..ms(16_000)].chunks(320) {
        events.extend(seg.push(c));
    }
    let started: Vec<(u64, usize)> = events
        .iter()
        .filter_map(|e| match e {
            SegmenterEvent::Started {
                start_sample,
                carried_samples,
            } => Some((*start_sample, *carried_samples)),
            _ => None,
        })
        .collect();
    assert_eq!(started.len(), 2);
    let mut cuts = Vec::new();
    collect(events, &mut cuts);
    assert_eq!(cuts.len(), 1);
    let (start, samples, reason) = &cuts[0];
    assert_eq!(*reason, EndReason::MaxLength);
    // The cut is inside the 12.00–12.15 s pause; the next utterance starts right there.
    let cut = started[1].0;
    assert!(
        (ms(12_000) as u64..ms(12_150) as u64).contains(&cut),
        "{cut}"
    );
    assert!(*start + samples.len() as u64 <= cut);
    assert_eq!(samples[..], audio[*start as usize..][..samples.len()]);
    let Some(current) = seg.current() else {
        panic!("speech goes on")
    };
    assert_eq!(current.start_sample(), cut);
    assert!(current.is_carried());
    assert_eq!(current.audio(), &audio[cut as usize..ms(16_000)]);
    assert!(started[1].1 > 0);
}

#[test]
fn positions_are_exact_from_the_origin() {
    let config = StreamConfig::default();
    let origin = 7 * 3_600 * 16_000; // seven hours in
    let audio = tones(&[(1_000, 2_000)], 3_000);
    let mut seg = segmenter(&config, origin);
    let cuts = run(&mut seg, &audio[..ms(3_000) - 5], 333);
    assert_eq!(seg.received_samples(), origin + ms(3_000) as u64 - 5);
    let (start, samples, _) = &cuts[0];
    assert_eq!(
        samples[..],
        audio[(*start - origin) as usize..][..samples.len()]
    );
    // Input after finish is ignored.
    assert!(seg.push(&audio).is_empty());
    assert_eq!(seg.received_samples(), origin + ms(3_000) as u64 - 5);
}

#[test]
fn finish_keeps_the_last_partial_frame() {
    let config = StreamConfig::default();
    let audio = tones(&[(500, 2_000)], 2_000);
    let mut seg = segmenter(&config, 0);
    let n = audio.len() - 100;
    let cuts = run(&mut seg, &audio[..n], 1_000);
    let (start, samples, reason) = &cuts[0];
    assert_eq!(*reason, EndReason::Finish);
    assert_eq!(*start as usize + samples.len(), n);
}
