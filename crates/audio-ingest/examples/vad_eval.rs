//! Measures voice activity detectors on real speech with known silences, e.g.
//! `cargo run --release -p audio-ingest --example vad_eval -- ../shared/eval/dev`.
//!
//! The LJ Speech clips of the folder are joined by gaps of 0.5–2 s under five conditions
//! (digital silence; white noise at −40 dBFS in the gaps only; steady pink noise at −40 and
//! −30 dBFS under everything; a speaker 15 dB quieter over pink noise at −50 dBFS). A frame is
//! speech when it lies in a clip between its first and last sample above −40 dB of the clip's
//! peak frame energy (measured on the clean clip, so pauses inside a sentence count as speech).
//! For the neural detector (`earshot`, the one `audio-ingest` uses) and an energy /
//! spectral-flux detector with an adaptive noise floor it prints frame error rates, then runs
//! the utterance segmenter over each and counts what reaches the engine.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use audio_ingest::stream::{
    NeuralVad, SegmenterEvent, StreamConfig, UtteranceSegmenter, VoiceDetector, VAD_FRAME_SAMPLES,
};

const FRAME: usize = VAD_FRAME_SAMPLES;

fn main() -> ExitCode {
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("../shared/eval/dev"), PathBuf::from);
    let clips = match load_clips(&dir) {
        Ok(c) if !c.is_empty() => c,
        Ok(_) => {
            eprintln!("{}: no .flac clips", dir.display());
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let mut config = StreamConfig::default();
    if let Some(t) = std::env::var("SPEECH_THRESHOLD")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.speech_threshold = t;
    }
    println!(
        "{} clips; frame = 16 ms; segmenter: speech threshold {}, end silence {} ms",
        clips.len(),
        config.speech_threshold,
        config.end_silence_ms
    );
    println!(
        "{:<22} {:<7} {:>7} {:>7} {:>7} | {:>5} {:>6} {:>6} {:>7} {:>8} {:>8}",
        "condition",
        "vad",
        "FA%",
        "miss%",
        "err%",
        "utts",
        "split",
        "merged",
        "false",
        "clipped",
        "noise_s"
    );
    for cond in Condition::ALL {
        let signal = build(&clips, cond, 7);
        for name in ["neural", "energy"] {
            let scores = score_all(name, &signal.samples);
            let (fa, miss, err) = frame_errors(&scores, &signal.truth, 0.5);
            if std::env::var_os("VAD_DEBUG").is_some() {
                let pct = |want: bool| {
                    let mut v: Vec<f32> = scores
                        .iter()
                        .zip(&signal.truth)
                        .filter(|(_, t)| **t == Some(want))
                        .map(|(s, _)| *s)
                        .collect();
                    v.sort_by(f32::total_cmp);
                    [0.05, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99]
                        .map(|q| v.get((q * v.len() as f64) as usize).copied().unwrap_or(0.0))
                };
                let best = (1..20)
                    .map(|i| {
                        let t = i as f32 / 20.0;
                        (frame_errors(&scores, &signal.truth, t).2, t)
                    })
                    .fold((1.0, 0.0), |a, b| if b.0 < a.0 { b } else { a });
                println!(
                    "  gaps q05..q99 {:.2?}\n  speech q05..q99 {:.2?}\n  best err {:.2}% at {}",
                    pct(false),
                    pct(true),
                    best.0 * 100.0,
                    best.1
                );
            }
            let seg = segment(name, &signal, &config);
            println!(
                "{:<22} {:<7} {:>7.2} {:>7.2} {:>7.2} | {:>5} {:>6} {:>6} {:>7} {:>7.2}% {:>8.1}",
                cond.name(),
                name,
                fa * 100.0,
                miss * 100.0,
                err * 100.0,
                seg.utterances,
                format!("{}/{}", seg.gaps_split, seg.gaps_splittable),
                seg.clips_merged_wrongly,
                seg.false_utterances,
                seg.speech_clipped * 100.0,
                seg.noise_secs,
            );
        }
    }
    println!(
        "FA/miss/err: frame false alarms on gaps, misses on speech, total error, at score 0.5 \
         (±64 ms around each boundary not scored).\n\
         utts: utterances; split: gaps ≥ end silence + 200 ms that ended an utterance; \
         merged: clip pairs split by a short gap that were cut apart anyway (not wrong, noted); \
         false: utterances with no speech; clipped: speech frames outside every utterance; \
         noise_s: decoded audio outside speech beyond the pre/post-roll."
    );
    ExitCode::SUCCESS
}

fn load_clips(dir: &Path) -> Result<Vec<Vec<f32>>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "flac"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            audio_ingest::decode_file(p)
                .map(|a| a.samples)
                .map_err(|e| e.to_string())
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Condition {
    Silence,
    WhiteGaps40,
    White40,
    Pink40,
    Pink30,
    QuietSpeaker,
}

impl Condition {
    const ALL: [Condition; 6] = [
        Condition::Silence,
        Condition::WhiteGaps40,
        Condition::White40,
        Condition::Pink40,
        Condition::Pink30,
        Condition::QuietSpeaker,
    ];

    fn name(self) -> &'static str {
        match self {
            Condition::Silence => "digital silence",
            Condition::WhiteGaps40 => "white -40 dBFS in gaps",
            Condition::White40 => "white -40 dBFS steady",
            Condition::Pink40 => "pink -40 dBFS steady",
            Condition::Pink30 => "pink -30 dBFS steady",
            Condition::QuietSpeaker => "speech -15 dB, pink -50",
        }
    }
}

struct Signal {
    samples: Vec<f32>,
    /// Per frame: Some(true) speech, Some(false) gap, None near a boundary (not scored).
    truth: Vec<Option<bool>>,
    /// Speech spans in samples and the gap that follows each (in samples).
    spans: Vec<(usize, usize)>,
}

fn build(clips: &[Vec<f32>], cond: Condition, seed: u64) -> Signal {
    let mut rng = Rng(seed);
    let gain = match cond {
        Condition::QuietSpeaker => 10f32.powf(-15.0 / 20.0),
        _ => 1.0,
    };
    let mut samples = Vec::new();
    let mut spans = Vec::new();
    let gap = |rng: &mut Rng, samples: &mut Vec<f32>| {
        let len = 8_000 + (rng.next() % 24_000) as usize;
        samples.extend(std::iter::repeat_n(0.0, len));
    };
    gap(&mut rng, &mut samples);
    for clip in clips {
        let (a, b) = speech_span(clip);
        let at = samples.len();
        samples.extend(clip.iter().map(|s| s * gain));
        spans.push((at + a, at + b));
        gap(&mut rng, &mut samples);
    }
    let mut in_speech = vec![false; samples.len()];
    for &(a, b) in &spans {
        in_speech[a..b].iter_mut().for_each(|x| *x = true);
    }
    // Noise at an exact RMS level (dBFS of a full-scale sine's RMS = 0.707 is not used: level
    // is RMS relative to 1.0).
    let mut pink = Pink::default();
    let (level_db, steady, pinkish) = match cond {
        Condition::Silence => (f32::NEG_INFINITY, true, false),
        Condition::WhiteGaps40 => (-40.0, false, false),
        Condition::White40 => (-40.0, true, false),
        Condition::Pink40 => (-40.0, true, true),
        Condition::Pink30 => (-30.0, true, true),
        Condition::QuietSpeaker => (-50.0, true, true),
    };
    if level_db.is_finite() {
        let noise: Vec<f32> = (0..samples.len())
            .map(|_| {
                let w = rng.gauss();
                if pinkish {
                    pink.next(w)
                } else {
                    w
                }
            })
            .collect();
        let rms = (noise.iter().map(|x| x * x).sum::<f32>() / noise.len().max(1) as f32).sqrt();
        let gain = 10f32.powf(level_db / 20.0) / rms.max(1e-9);
        for (i, (s, n)) in samples.iter_mut().zip(&noise).enumerate() {
            if steady || !in_speech[i] {
                *s += n * gain;
            }
        }
    }
    let margin = 4 * FRAME;
    let truth = (0..samples.len() / FRAME)
        .map(|f| {
            let (a, b) = (f * FRAME, f * FRAME + FRAME);
            let near = spans.iter().any(|&(s, e)| {
                (a + margin > s && a < s + margin) || (b + margin > e && b < e + margin)
            });
            (!near).then(|| in_speech[a + FRAME / 2])
        })
        .collect();
    Signal {
        samples,
        truth,
        spans,
    }
}

/// First and last sample of frames within 40 dB of the clip's loudest frame.
fn speech_span(clip: &[f32]) -> (usize, usize) {
    let energy: Vec<f32> = clip
        .chunks(FRAME)
        .map(|c| c.iter().map(|s| s * s).sum::<f32>() / c.len() as f32)
        .collect();
    let peak = energy.iter().copied().fold(0.0, f32::max);
    let loud = |e: &f32| *e > peak * 1e-4;
    let first = energy.iter().position(loud).unwrap_or(0);
    let last = energy.iter().rposition(loud).unwrap_or(0);
    (first * FRAME, ((last + 1) * FRAME).min(clip.len()))
}

fn detector(name: &str) -> Box<dyn VoiceDetector> {
    match name {
        "neural" => Box::new(NeuralVad::new()),
        _ => Box::new(EnergyVad::new()),
    }
}

fn score_all(name: &str, samples: &[f32]) -> Vec<f32> {
    let mut vad = detector(name);
    samples
        .chunks_exact(FRAME)
        .map(|c| {
            let mut f = [0.0; FRAME];
            f.copy_from_slice(c);
            vad.score(&f)
        })
        .collect()
}

fn frame_errors(scores: &[f32], truth: &[Option<bool>], t: f32) -> (f64, f64, f64) {
    let (mut fa, mut gaps, mut miss, mut speech) = (0usize, 0usize, 0usize, 0usize);
    for (s, t_) in scores.iter().zip(truth) {
        match t_ {
            Some(true) => {
                speech += 1;
                miss += usize::from(*s < t);
            }
            Some(false) => {
                gaps += 1;
                fa += usize::from(*s >= t);
            }
            None => {}
        }
    }
    let r = |a: usize, b: usize| a as f64 / b.max(1) as f64;
    (r(fa, gaps), r(miss, speech), r(fa + miss, gaps + speech))
}

struct SegStats {
    utterances: usize,
    gaps_split: usize,
    gaps_splittable: usize,
    clips_merged_wrongly: usize,
    false_utterances: usize,
    speech_clipped: f64,
    noise_secs: f64,
}

fn segment(name: &str, signal: &Signal, config: &StreamConfig) -> SegStats {
    let mut seg = UtteranceSegmenter::new(config, detector(name), 0);
    let mut utts: Vec<(usize, usize)> = Vec::new();
    let push_events = |events: Vec<SegmenterEvent>, utts: &mut Vec<(usize, usize)>| {
        for e in events {
            if let SegmenterEvent::Ended { utterance, .. } = e {
                let a = utterance.start_sample() as usize;
                utts.push((a, a + utterance.decodable_len()));
            }
        }
    };
    for chunk in signal.samples.chunks(320) {
        push_events(seg.push(chunk), &mut utts);
    }
    push_events(seg.finish(), &mut utts);

    let covered = |i: usize| utts.iter().any(|&(a, b)| (a..b).contains(&i));
    let utt_of = |i: usize| utts.iter().position(|&(a, b)| (a..b).contains(&i));
    let min_split = ms_to_samples(config.end_silence_ms + 200);
    let (mut split, mut splittable, mut merged_wrong) = (0, 0, 0);
    for w in signal.spans.windows(2) {
        let (end_a, start_b) = (w[0].1, w[1].0);
        let different = match (utt_of(end_a.saturating_sub(FRAME)), utt_of(start_b + FRAME)) {
            (Some(x), Some(y)) => x != y,
            _ => true,
        };
        if start_b - end_a >= min_split {
            splittable += 1;
            split += usize::from(different);
        } else if different {
            merged_wrong += 1;
        }
    }
    let in_speech = |i: usize| signal.spans.iter().any(|&(a, b)| (a..b).contains(&i));
    let false_utts = utts
        .iter()
        .filter(|&&(a, b)| !(a..b).step_by(FRAME).any(in_speech))
        .count();
    let (mut speech, mut clipped) = (0usize, 0usize);
    for &(a, b) in &signal.spans {
        for i in (a..b).step_by(FRAME) {
            speech += 1;
            clipped += usize::from(!covered(i));
        }
    }
    let slack = ms_to_samples(config.preroll_ms.max(config.postroll_ms) + 100);
    let near_speech = |i: usize| {
        signal
            .spans
            .iter()
            .any(|&(a, b)| i + slack >= a && i < b + slack)
    };
    let noise: usize = utts
        .iter()
        .map(|&(a, b)| (a..b).step_by(FRAME).filter(|&i| !near_speech(i)).count() * FRAME)
        .sum();
    SegStats {
        utterances: utts.len(),
        gaps_split: split,
        gaps_splittable: splittable,
        clips_merged_wrongly: merged_wrong,
        false_utterances: false_utts,
        speech_clipped: clipped as f64 / speech.max(1) as f64,
        noise_secs: noise as f64 / 16_000.0,
    }
}

/// The comparison detector: band energy (200–4000 Hz) over an adaptive noise floor, plus
/// positive spectral flux for onsets, squashed to `0..=1`.
struct EnergyVad {
    cos: Vec<f32>,
    sin: Vec<f32>,
    window: Vec<f32>,
    history: VecDeque<f32>,
    prev_log: Vec<f32>,
    floor_db: Option<f32>,
}

const BINS: std::ops::Range<usize> = 4..65; // 250–4000 Hz at 62.5 Hz per bin (256-point DFT)

impl EnergyVad {
    fn new() -> Self {
        let n = FRAME;
        let mut cos = Vec::with_capacity(n * n);
        let mut sin = Vec::with_capacity(n * n);
        for k in 0..n {
            for t in 0..n {
                let a = 2.0 * std::f32::consts::PI * (k * t % n) as f32 / n as f32;
                cos.push(a.cos());
                sin.push(a.sin());
            }
        }
        let window = (0..n)
            .map(|t| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * t as f32 / n as f32).cos())
            .collect();
        Self {
            cos,
            sin,
            window,
            history: VecDeque::new(),
            prev_log: vec![0.0; BINS.end],
            floor_db: None,
        }
    }
}

impl VoiceDetector for EnergyVad {
    fn score(&mut self, frame: &[f32; FRAME]) -> f32 {
        let n = FRAME;
        let x: Vec<f32> = frame.iter().zip(&self.window).map(|(s, w)| s * w).collect();
        let mut band = 0.0f32;
        let mut flux = 0.0f32;
        for k in BINS {
            let (mut re, mut im) = (0.0f32, 0.0f32);
            for (t, xt) in x.iter().enumerate() {
                re += xt * self.cos[k * n + t];
                im -= xt * self.sin[k * n + t];
            }
            let p = re * re + im * im;
            band += p;
            let l = 10.0 * (p + 1e-10).log10();
            flux += (l - self.prev_log[k]).max(0.0);
            self.prev_log[k] = l;
        }
        flux /= BINS.len() as f32;
        let db = 10.0 * (band / (n * n) as f32 + 1e-10).log10();
        // Noise floor: follows quickly downwards, rises by at most 1.5 dB/s; it is the
        // minimum over the last ~1 s, smoothed.
        self.history.push_back(db);
        if self.history.len() > 62 {
            self.history.pop_front();
        }
        let min = self.history.iter().copied().fold(f32::INFINITY, f32::min);
        let p = params();
        let floor = match self.floor_db {
            None => min,
            Some(f) if min < f => min,
            Some(f) => f + p[0].min(min - f),
        };
        self.floor_db = Some(floor);
        let snr = db - floor;
        let z = p[3] * (snr - p[1]) + p[2] * (flux - 6.0);
        let p = 1.0 / (1.0 + (-z).exp());
        if db < -70.0 {
            0.0
        } else {
            p
        }
    }

    fn reset(&mut self) {
        self.history.clear();
        self.floor_db = None;
        self.prev_log.iter_mut().for_each(|v| *v = 0.0);
    }
}

/// Paul Kellet's economy pink-noise filter over white noise.
#[derive(Default)]
struct Pink {
    b: [f32; 3],
}

impl Pink {
    fn next(&mut self, white: f32) -> f32 {
        self.b[0] = 0.99765 * self.b[0] + white * 0.099_046;
        self.b[1] = 0.963 * self.b[1] + white * 0.2965164;
        self.b[2] = 0.57 * self.b[2] + white * 1.0526913;
        self.b[0] + self.b[1] + self.b[2] + white * 0.1848
    }
}

/// xorshift64* with a Box–Muller normal.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn uniform(&mut self) -> f32 {
        ((self.next() >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    }

    fn gauss(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f32::consts::PI * v).cos()
    }
}

fn ms_to_samples(ms: u64) -> usize {
    (ms * audio_ingest::stream::SAMPLES_PER_MS) as usize
}

fn params() -> [f32; 4] {
    let mut p = [0.002, 6.0, 0.1, 0.8];
    if let Ok(v) = std::env::var("EVAD") {
        for (i, x) in v.split(',').enumerate().take(4) {
            if let Ok(x) = x.parse() {
                p[i] = x;
            }
        }
    }
    p
}
