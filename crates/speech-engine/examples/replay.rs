//! Offline replay of the live streaming core on one file with the real engine: what the
//! streaming policy costs and how accurate its finals are, without a server or a clock.
//!
//! Audio "arrives" in 100 ms chunks on a virtual clock; one worker decodes whatever the session
//! asks for, and the virtual clock advances by each decode's measured wall time (so a slow
//! decode makes the next step larger, as on a busy server). Reports the engine time per second
//! of audio (a stream's load: cores ÷ load ≈ streams a machine holds), decode counts, the
//! latency of every final word on the virtual clock, and the finals' word error rate against a
//! reference (lower case, punctuation removed — a quick comparison, not the benchmark's
//! normaliser).
//!
//! ```text
//! cargo run --release -p speech-engine --example replay -- MODEL.bin AUDIO.flac [REFERENCE.txt]
//!     [--threads N] [--partial-beam B] [--final-beam B] [--offline] [--step MS]
//!     [--max-utterance MS] [--partial-margin FRAMES] [--final-margin FRAMES]
//!     [--multi-pass] [--slowdown F] [--max-carry MS] [--context CHARS] [--modelled-cost]
//!     [--pad MS]
//! ```
//!
//! `--modelled-cost` advances the virtual clock by a fixed model of a decode's time (80 ms plus
//! 31 ms per second of audio: a fit to one-core decodes of tiny.en q8_0 on eval/long) instead of
//! its measured time, so that two runs make the same requests and get the same output: policy
//! changes can be compared without the ±1 point WER noise of step timing.
//!
//! `REPLAY_TRACE=1` prints every decode (with `REPLAY_HYP=1` its text too), `REPLAY_WORDS=1`
//! every final word with its time and confidence.
//!
//! `--pad MS` puts that much silence before the audio (with `--offline` too): Whisper's output
//! on a file depends on where its windows and steps fall, so a few padded runs show how much of
//! a WER difference is the luck of one alignment.

use std::path::PathBuf;
use std::time::Instant;

use audio_ingest::stream::{StreamConfig, StreamSession, Update};
use speech_engine::scheduler::streaming_options;
use speech_engine::{DecodeOptions, JobKind, SpeechEngine, WhisperEngine};

const CHUNK_MS: u64 = 100;

struct Args {
    model: PathBuf,
    audio: PathBuf,
    reference: Option<PathBuf>,
    threads: usize,
    partial_beam: u32,
    final_beam: u32,
    offline: bool,
    config: StreamConfig,
    partial_margin: Option<u32>,
    final_margin: Option<u32>,
    multi_pass: bool,
    /// Decode times are multiplied by this on the virtual clock: 2 ≈ four streams sharing
    /// two cores.
    slowdown: f64,
    modelled_cost: bool,
    /// Silence put before the audio, ms.
    pad_ms: u64,
}

fn parse() -> Args {
    let mut pos = Vec::new();
    let mut a = Args {
        model: PathBuf::new(),
        audio: PathBuf::new(),
        reference: None,
        threads: 1,
        partial_beam: streaming_options(JobKind::Partial).beam_size,
        final_beam: streaming_options(JobKind::Final).beam_size,
        offline: false,
        config: StreamConfig::default(),
        partial_margin: None,
        final_margin: None,
        multi_pass: false,
        slowdown: 1.0,
        modelled_cost: false,
        pad_ms: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> u64 {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match arg.as_str() {
            "--threads" => a.threads = num("--threads") as usize,
            "--partial-beam" => a.partial_beam = num("--partial-beam") as u32,
            "--final-beam" => a.final_beam = num("--final-beam") as u32,
            "--offline" => a.offline = true,
            "--multi-pass" => a.multi_pass = true,
            "--modelled-cost" => a.modelled_cost = true,
            "--pad" => a.pad_ms = num("--pad"),
            "--slowdown" => a.slowdown = num("--slowdown") as f64,
            "--max-carry" => a.config.max_carry_ms = num("--max-carry"),
            "--context" => a.config.context_chars = num("--context") as usize,
            "--step" => a.config.step_ms = num("--step"),
            "--partial-margin" => a.partial_margin = Some(num("--partial-margin") as u32),
            "--final-margin" => a.final_margin = Some(num("--final-margin") as u32),
            "--max-utterance" => a.config.max_utterance_ms = num("--max-utterance"),
            _ => pos.push(PathBuf::from(arg)),
        }
    }
    assert!(
        pos.len() >= 2,
        "usage: replay MODEL AUDIO [REFERENCE.txt] [options]"
    );
    a.model = pos[0].clone();
    a.audio = pos[1].clone();
    a.reference = pos.get(2).cloned();
    a
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'')
                .collect::<String>()
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

fn edit_distance(r: &[String], h: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut cur = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(rw != hw))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[h.len()]
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let args = parse();
    let engine = WhisperEngine::load(&args.model).expect("model loads");
    let mut audio = audio_ingest::decode_file(&args.audio).expect("audio decodes");
    if args.pad_ms > 0 {
        let pad = vec![0.0; (args.pad_ms * 16) as usize];
        audio.samples.splice(0..0, pad);
    }
    let reference = args
        .reference
        .as_ref()
        .map(|p| std::fs::read_to_string(p).expect("reference reads"));
    let audio_s = audio.samples.len() as f64 / 16_000.0;

    let (text, engine_s, decodes, latencies) = if args.offline {
        let opts = DecodeOptions {
            threads: args.threads,
            ..DecodeOptions::default()
        };
        let t0 = Instant::now();
        let t = engine.transcribe(&audio, &opts, None).expect("decodes");
        (t.text(), t0.elapsed().as_secs_f64(), (1, 0), Vec::new())
    } else {
        replay(&engine, &args, &audio.samples)
    };
    println!(
        "audio {audio_s:.1} s, engine {engine_s:.1} s, load {:.3} (engine s per audio s at {} \
         thread(s)), decodes: {} final + {} partial",
        engine_s / audio_s,
        args.threads,
        decodes.0,
        decodes.1
    );
    if !latencies.is_empty() {
        let mut l = latencies;
        println!(
            "final-word latency (virtual clock, from word end): p50 {:.2} s, p95 {:.2} s, max {:.2} s",
            percentile(&mut l, 0.5),
            percentile(&mut l, 0.95),
            percentile(&mut l, 1.0)
        );
    }
    if let Some(r) = reference {
        let (r, h) = (words(&r), words(&text));
        let e = edit_distance(&r, &h);
        println!(
            "WER {:.2} % ({e} errors / {} words; {} words out)",
            100.0 * e as f64 / r.len() as f64,
            r.len(),
            h.len()
        );
    }
    if std::env::var_os("REPLAY_TEXT").is_some() {
        println!("{text}");
    }
}

/// Runs the stream on a virtual clock. Returns the finals' text, total engine seconds,
/// (final, partial) decode counts and the latency of every final word.
fn replay(
    engine: &WhisperEngine,
    args: &Args,
    samples: &[f32],
) -> (String, f64, (usize, usize), Vec<f64>) {
    let mut session = StreamSession::new(args.config.clone()).expect("config");
    let chunk = (CHUNK_MS * 16) as usize;
    let mut now_ms = 0.0_f64; // virtual clock
    let mut fed = 0_usize;
    let mut engine_s = 0.0;
    let mut decodes = (0, 0);
    let mut text = Vec::new();
    let mut latencies = Vec::new();
    let mut record = |u: Update, now_ms: f64, text: &mut Vec<String>| {
        for f in u.finals {
            for w in &f.segment.words {
                latencies.push((now_ms - w.end_ms as f64).max(0.0) / 1000.0);
                if std::env::var_os("REPLAY_WORDS").is_some() {
                    println!(
                        "word {:>7} {:>7} {:.2} {}",
                        w.start_ms, w.end_ms, w.confidence, w.word
                    );
                }
            }
            text.push(f.segment.text);
        }
    };
    loop {
        // Feed every chunk that has arrived by now.
        while fed < samples.len() && (((fed + chunk).min(samples.len()) / 16) as f64) <= now_ms {
            let end = (fed + chunk).min(samples.len());
            let u = session.push_audio(&samples[fed..end]);
            record(u, now_ms, &mut text);
            fed = end;
        }
        if fed >= samples.len() && !session.is_done() {
            let u = session.finish();
            record(u, now_ms, &mut text);
        }
        if let Some(req) = session.take_request() {
            let kind = if req.is_final {
                JobKind::Final
            } else {
                JobKind::Partial
            };
            let opts = DecodeOptions {
                threads: args.threads,
                prompt: req.prompt.clone(),
                beam_size: if req.is_final {
                    args.final_beam
                } else {
                    args.partial_beam
                },
                ..streaming_options(kind)
            };
            let margin = if req.is_final {
                args.final_margin
            } else {
                args.partial_margin
            };
            let opts = DecodeOptions {
                audio_ctx_margin: margin.unwrap_or(opts.audio_ctx_margin),
                single_pass: !args.multi_pass,
                min_audio_ctx: margin
                    .map_or(opts.min_audio_ctx, |m| opts.min_audio_ctx.min(m + 50)),
                ..opts
            };
            let t0 = Instant::now();
            let t = engine.transcribe(&req.audio, &opts, None);
            let d = t0.elapsed().as_secs_f64();
            engine_s += d;
            let cost = if args.modelled_cost {
                0.080 + 0.031 * req.audio.samples.len() as f64 / 16_000.0
            } else {
                d
            };
            now_ms += cost * args.slowdown * 1000.0;
            if std::env::var_os("REPLAY_TRACE").is_some() {
                let words = t
                    .as_ref()
                    .map_or(0, |t| t.text().split_whitespace().count());
                println!(
                    "decode {} audio {:.2} s took {:.3} s, {words} words",
                    if req.is_final { "final  " } else { "partial" },
                    req.audio.samples.len() as f64 / 16_000.0,
                    d
                );
                if let (Some(_), Ok(t)) = (std::env::var_os("REPLAY_HYP"), &t) {
                    println!("  hyp: {}", t.text());
                }
            }
            if req.is_final {
                decodes.0 += 1;
            } else {
                decodes.1 += 1;
            }
            let u = match t {
                Ok(t) => session.apply(req.id, &t),
                Err(_) => session.decode_failed(req.id),
            };
            record(u, now_ms, &mut text);
            continue;
        }
        if session.is_done() {
            break;
        }
        if fed >= samples.len() {
            // Nothing due and no audio left: should not happen once finished.
            break;
        }
        now_ms = now_ms.max(((fed + chunk).min(samples.len()) / 16) as f64);
    }
    (text.join(" "), engine_s, decodes, latencies)
}
