//! `scribe-bench live`: N bots stream real speech at real-time pace into a release
//! `nexus-scribe serve`, a viewer per meeting, and the latency of every final word, the first
//! partials, the WER of the finals, the server's CPU and memory and its scheduler metrics are
//! measured; `--sweep` finds the most bots that keep p95 final-word latency within the limit and
//! `--overload` checks that streams beyond capacity are refused (4102) without hurting the
//! running ones.

mod audio;
mod client;
mod figures;
mod http;
mod latency;
mod procstat;
mod promtext;
mod score;
mod server;
mod speech;
mod step;
mod table;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};
use serde_json::json;
use tokio_tungstenite::tungstenite::Bytes;

use crate::accuracy::{cpu_model, default_nexus_bin, loadavg, repo_root, version_of};
use crate::python::{self, Python};
use audio::AudioSet;
use figures::StepFigures;
use score::{Offline, Scorer, Wer};
use server::Binary;

/// The `live` command's options.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// Concurrent bots (the first N of a sweep is always 1).
    #[arg(long, default_value_t = 1)]
    pub bots: usize,
    /// Run N = 1, 2, 3, … (a fresh server each) until p95 final-word latency exceeds the limit or
    /// a bot is refused; report the largest N that kept it.
    #[arg(long)]
    pub sweep: bool,
    /// Upper bound of N in a sweep.
    #[arg(long, default_value_t = 12)]
    pub max_bots: usize,
    /// Once the bots run, try this many more and report how many were refused with 4102 and
    /// whether the running bots kept their latency. With --sweep: one more step after the sweep,
    /// at the capacity it found.
    #[arg(long, default_value_t = 0)]
    pub overload: usize,
    /// Seconds after the last bot under test started before the extra bots try.
    #[arg(long, default_value_t = 20)]
    pub overload_after: u64,
    /// What every bot streams.
    #[arg(long, value_enum, default_value = "long")]
    pub audio: AudioSet,
    /// Cut each stream to at most this many seconds (at a clip boundary), for quick runs.
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Silence between the dev clips (`--audio dev`).
    #[arg(long, default_value_t = 1000)]
    pub gap_ms: u64,
    /// Audio per binary message.
    #[arg(long, default_value_t = 100)]
    pub chunk_ms: u64,
    /// Delay between two bots' starts.
    #[arg(long, default_value_t = 1000)]
    pub stagger_ms: u64,
    /// The p95 final-word latency a step must keep, seconds.
    #[arg(long, default_value_t = 2.5)]
    pub p95_limit: f64,
    /// How long a bot waits for the closing metadata after CloseStream, seconds.
    #[arg(long, default_value_t = 300)]
    pub drain_timeout: u64,
    /// nexus-scribe executable [default: $CARGO_TARGET_DIR/release/nexus-scribe, else
    /// <repo>/target/release/nexus-scribe].
    #[arg(long, value_name = "PATH")]
    pub bin: Option<PathBuf>,
    /// Models folder holding tiny.en/ [default: $HOME/.cache/nexus-scribe/models when it has
    /// the model, else <repo>/data/models].
    #[arg(long, value_name = "DIR")]
    pub models_dir: Option<PathBuf>,
    /// Catalogue model name (engine.model) for the server and for transcribe.
    #[arg(long, default_value = "tiny.en")]
    pub model: String,
    /// Folder holding long/ and dev/ [default: <repo>/../shared/eval].
    #[arg(long, value_name = "DIR")]
    pub eval_dir: Option<PathBuf>,
    /// JSON results [default: <repo>/benches/out/live.json].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Python interpreter with whisper-normalizer.
    #[arg(long, default_value = "python3", value_name = "PATH")]
    pub python: PathBuf,
    /// Do not run offline `transcribe` for the WER comparison.
    #[arg(long)]
    pub skip_transcribe: bool,
}

pub fn run(opts: Options) -> anyhow::Result<()> {
    if opts.bots == 0 || opts.chunk_ms == 0 || opts.max_bots == 0 {
        bail!("--bots, --max-bots and --chunk-ms must be at least 1");
    }
    let root = repo_root();
    let eval_dir = opts
        .eval_dir
        .clone()
        .unwrap_or_else(|| root.join("../shared/eval"));
    let eval_dir = eval_dir
        .canonicalize()
        .with_context(|| format!("evaluation folder {}", eval_dir.display()))?;
    let bin_path = opts.bin.clone().unwrap_or_else(|| default_nexus_bin(&root));
    if !bin_path.is_file() {
        bail!(
            "{} not found: build it with `cargo build --release -p nexus-scribe` or pass --bin",
            bin_path.display()
        );
    }
    let models_dir = opts.models_dir.clone().unwrap_or_else(|| {
        std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".cache/nexus-scribe/models"))
            .filter(|d| d.join(&opts.model).is_dir())
            .unwrap_or_else(|| root.join("data/models"))
    });
    let bin = Binary {
        path: bin_path,
        cwd: root.clone(),
        models_dir,
        model: opts.model.clone(),
    };
    let out_path = opts
        .out
        .clone()
        .unwrap_or_else(|| root.join("benches/out/live.json"));
    let out_dir = out_path
        .parent()
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;

    let stream = audio::load(opts.audio, &eval_dir, opts.seconds, opts.gap_ms)?;
    eprintln!(
        "audio: {} ({:.1} s, {} clips); model {} from {}",
        stream.description,
        stream.duration_s(),
        stream.clips,
        bin.model,
        bin.models_dir.display()
    );
    let spans = speech::utterances(&stream.samples, opts.chunk_ms);
    eprintln!(
        "{} utterances as the server's segmenter cuts the audio",
        spans.len()
    );
    let scorer = Scorer::new(Python {
        interpreter: opts.python.clone(),
        scripts: python::scripts_dir(&root),
    });

    // Offline transcription of exactly the streamed audio, before any server runs.
    let scratch = tempfile::tempdir().context("creating a scratch folder")?;
    let wav = scratch.path().join("live-stream.wav");
    audio::write_wav(&wav, &stream.samples)?;
    let mut offline: Vec<Offline> = Vec::new();
    if !opts.skip_transcribe {
        for beam in [None, Some(1)] {
            eprintln!(
                "offline: nexus-scribe transcribe ({})…",
                beam.map_or_else(|| "configured beam".into(), |b| format!("--beam-size {b}"))
            );
            offline.push(score::transcribe(&bin, &wav, beam)?);
        }
        let mut texts = vec![stream.reference.clone()];
        texts.extend(offline.iter().map(|o| o.text.clone()));
        let n = scorer.normalise(&texts)?;
        for (o, hyp) in offline.iter_mut().zip(&n[1..]) {
            o.wer = Some(Wer::of(&n[0], hyp));
        }
    }

    let loadavg_before = loadavg();
    let audio_bytes = Bytes::from(stream.le_bytes());
    let run_step = |bots: usize, overload: usize| -> anyhow::Result<StepFigures> {
        let log_path = out_dir.join(format!(
            "live-server-n{bots}{}.log",
            if overload > 0 {
                format!("-overload{overload}")
            } else {
                String::new()
            }
        ));
        eprintln!(
            "step: {bots} bot(s){} streaming {:.1} s each, {} ms apart…",
            if overload > 0 {
                format!(" + {overload} extra after {} s", opts.overload_after)
            } else {
                String::new()
            },
            stream.duration_s(),
            opts.stagger_ms
        );
        let plan = step::Plan {
            bots,
            overload,
            overload_after: Duration::from_secs(opts.overload_after),
            stagger: Duration::from_millis(opts.stagger_ms),
            chunk_ms: opts.chunk_ms,
            drain_timeout: Duration::from_secs(opts.drain_timeout),
            log_path: log_path.clone(),
        };
        let out = step::run(&bin, &plan, audio_bytes.clone())?;
        let f = figures::step(
            out,
            figures::Context {
                bots,
                overload,
                chunk_ms: opts.chunk_ms,
                spans: &spans,
                reference: &stream.reference,
                offline_words: offline.first().map_or(&[][..], |o| o.words.as_slice()),
                scorer: &scorer,
                p95_limit_s: opts.p95_limit,
                server_log: log_path,
            },
        )?;
        println!(
            "\n== {bots} bot(s){}, {} ({:.1} s each) ==",
            if overload > 0 {
                format!(" + {overload} extra")
            } else {
                String::new()
            },
            stream.description,
            stream.duration_s()
        );
        print!("{}", table::step(&f, opts.p95_limit));
        Ok(f)
    };

    let mut steps = Vec::new();
    let mut largest = None;
    if opts.sweep {
        for n in 1..=opts.max_bots {
            let f = run_step(n, 0)?;
            let ok = f.within_limit;
            steps.push(f);
            if !ok {
                break;
            }
            largest = Some(n);
        }
        if opts.overload > 0 {
            if let Some(n) = largest {
                steps.push(run_step(n, opts.overload)?);
            }
        }
    } else {
        steps.push(run_step(opts.bots, opts.overload)?);
    }
    let loadavg_after = loadavg();

    println!();
    for o in &offline {
        println!(
            "offline `nexus-scribe transcribe` ({}): WER {} in {:.1} s",
            o.beam_size
                .map_or_else(|| "configured beam".into(), |b| format!("beam {b}")),
            o.wer
                .map_or_else(|| "-".into(), |w| format!("{:.2} %", w.wer_percent)),
            o.wall_s
        );
    }
    println!("normaliser: {}", scorer.name());
    if opts.sweep {
        print!("{}", table::sweep(&steps, opts.p95_limit, largest));
    }
    if let Some(first) = steps.first() {
        print!("{}", table::acceptance(first, offline.first()));
    }

    let doc = json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "date": date(),
        "nexus_bin": bin.path,
        "nexus_version": version_of(&bin.path),
        "model": { "name": bin.model, "models_dir": bin.models_dir },
        "machine": {
            "cores": std::thread::available_parallelism().map(usize::from).ok(),
            "cpu": cpu_model(),
            "loadavg_before": loadavg_before,
            "loadavg_after": loadavg_after,
        },
        "audio": {
            "set": format!("{:?}", opts.audio).to_lowercase(),
            "description": stream.description,
            "duration_s": stream.duration_s(),
            "clips": stream.clips,
            "reference": stream.reference,
            "utterances": spans,
        },
        "options": {
            "chunk_ms": opts.chunk_ms,
            "stagger_ms": opts.stagger_ms,
            "p95_limit_s": opts.p95_limit,
            "overload": opts.overload,
            "overload_after_s": opts.overload_after,
            "sweep": opts.sweep,
        },
        "normaliser": scorer.name(),
        "offline": offline,
        "largest_n_within_limit": largest,
        "steps": steps,
    });
    let text = serde_json::to_string_pretty(&doc).context("encoding the results")?;
    std::fs::write(&out_path, text + "\n")
        .with_context(|| format!("writing {}", out_path.display()))?;
    println!("details: {}", out_path.display());
    Ok(())
}

fn date() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
