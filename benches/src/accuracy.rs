//! `scribe-bench accuracy`: both engines over an evaluation folder in one run, scored the same way.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _};
use serde_json::json;

use crate::engines::{self, Engine, Setup};
use crate::manifest;
use crate::python::{self, Python};
use crate::report;

/// The `accuracy` command's options; `None` paths take the defaults given in their help.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// Evaluation folder with manifest.tsv [default: <repo>/../shared/eval/dev].
    #[arg(long, value_name = "DIR")]
    pub eval_dir: Option<PathBuf>,
    /// nexus-scribe executable [default: $CARGO_TARGET_DIR/release/nexus-scribe, else
    /// <repo>/target/release/nexus-scribe].
    #[arg(long, value_name = "PATH")]
    pub nexus_bin: Option<PathBuf>,
    /// A ggml file, or a model folder holding ggml-q8_0.bin / ggml-f16.bin
    /// [default: <repo>/data/models/tiny.en].
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// CTranslate2 folder for faster-whisper, the weights the ggml files were converted from
    /// [default: ct2/ inside the model folder, or beside the ggml file].
    #[arg(long, value_name = "DIR")]
    pub ct2_dir: Option<PathBuf>,
    #[arg(long, default_value_t = 5)]
    pub beam_size: u32,
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Runs of each engine; times, memory and WER are the medians.
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
    /// JSON results with per-file errors [default: <repo>/benches/out/accuracy.json].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Do not run faster-whisper.
    #[arg(long)]
    pub skip_peer: bool,
    /// Do not run nexus-scribe.
    #[arg(long)]
    pub skip_nexus: bool,
    /// Python interpreter with faster-whisper and whisper-normalizer.
    #[arg(long, default_value = "python3", value_name = "PATH")]
    pub python: PathBuf,
    /// Only the first N files of the manifest (for a quick check; figures need all).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// The repository root: this crate lives in `<root>/benches`.
pub fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_owned()
}

pub fn run(opts: Options) -> anyhow::Result<()> {
    if opts.runs == 0 || opts.threads == 0 || opts.beam_size == 0 {
        bail!("--runs, --threads and --beam-size must be at least 1");
    }
    let root = repo_root();
    let eval_dir = opts
        .eval_dir
        .clone()
        .unwrap_or_else(|| root.join("../shared/eval/dev"));
    let eval_dir = eval_dir
        .canonicalize()
        .with_context(|| format!("evaluation folder {}", eval_dir.display()))?;
    let mut utterances = manifest::load(&eval_dir)?;
    if let Some(n) = opts.limit {
        utterances.truncate(n.max(1));
    }
    let files = utterances
        .iter()
        .map(|u| {
            let p = eval_dir.join(&u.file);
            if !p.is_file() {
                bail!("{} is in the manifest but not on disk", p.display());
            }
            p.to_str()
                .map(str::to_owned)
                .context("audio paths must be UTF-8")
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let audio_s: f64 = utterances.iter().map(|u| u.duration_s).sum();

    let mut engines_run = Vec::new();
    if !opts.skip_nexus {
        engines_run.push(Engine::Nexus);
    }
    if !opts.skip_peer {
        engines_run.push(Engine::FasterWhisper);
    }
    if engines_run.is_empty() {
        bail!("--skip-nexus and --skip-peer together leave nothing to measure");
    }

    let py = Python {
        interpreter: opts.python.clone(),
        scripts: python::scripts_dir(&root),
    };
    let python_versions = py.check(!opts.skip_peer)?;
    let model = opts
        .model
        .clone()
        .unwrap_or_else(|| root.join("data/models/tiny.en"));
    let ggml = if opts.skip_nexus {
        PathBuf::new()
    } else {
        pick_ggml(&model)?
    };
    let ct2_dir = match &opts.ct2_dir {
        Some(d) => d.clone(),
        None if model.is_dir() => model.join("ct2"),
        None => model
            .parent()
            .map_or_else(|| PathBuf::from("ct2"), |p| p.join("ct2")),
    };
    let is_ct2 = ct2_dir.join("model.bin").is_file() && ct2_dir.join("config.json").is_file();
    if !opts.skip_peer && !is_ct2 {
        bail!(
            "{} is not a CTranslate2 model folder (model.bin, config.json): run `nexus-scribe models fetch tiny.en` or pass --ct2-dir",
            ct2_dir.display()
        );
    }
    let nexus_bin = match &opts.nexus_bin {
        Some(b) => b.clone(),
        None => default_nexus_bin(&root),
    };
    let nexus_version = if opts.skip_nexus {
        None
    } else {
        if !nexus_bin.is_file() {
            bail!(
                "{} not found: build it with `cargo build --release -p nexus-scribe` or pass --nexus-bin",
                nexus_bin.display()
            );
        }
        Some(version_of(&nexus_bin))
    };

    let setup = Setup {
        files,
        beam_size: opts.beam_size,
        threads: opts.threads,
        cwd: root.clone(),
        nexus_bin,
        ggml,
        python: opts.python.clone(),
        faster_whisper_script: py.script("faster_whisper_run.py"),
        ct2_dir,
    };
    // Both engines then find the audio and their weights in the page cache.
    warm_cache(&setup, &engines_run);
    let load_before = loadavg();
    eprintln!(
        "{} files, {audio_s:.1} s of audio; beam {}, {} threads; load average {load_before}",
        setup.files.len(),
        setup.beam_size,
        setup.threads
    );

    let mut runs: Vec<Vec<engines::Run>> = vec![Vec::new(); engines_run.len()];
    for r in 0..opts.runs {
        // Alternate the order so neither engine always runs on a machine the other just warmed.
        let mut order: Vec<usize> = (0..engines_run.len()).collect();
        if r % 2 == 1 {
            order.reverse();
        }
        for k in order {
            let engine = engines_run[k];
            let run = engines::run(engine, &setup)?;
            let others = run.measured.others_cores();
            eprintln!(
                "run {}/{}: {:<15} {:7.2} s, peak {:5.0} MiB, other processes {} cores, exit {}",
                r + 1,
                opts.runs,
                engine.name(),
                run.measured.wall_s,
                run.measured.max_rss_kib as f64 / 1024.0,
                others.map_or_else(|| "?".into(), |c| format!("{c:.2}")),
                run.measured.exit_code.map_or_else(
                    || format!("signal {}", run.measured.signal.unwrap_or(0)),
                    |c| c.to_string()
                )
            );
            if run.texts.iter().all(Option::is_none) {
                bail!(
                    "{} transcribed none of the files; its error output ends:\n{}",
                    engine.name(),
                    run.stderr_tail.as_deref().unwrap_or("")
                );
            }
            runs[k].push(run);
        }
    }
    let load_after = loadavg();

    // One call to the normaliser for all texts: references, then each run of each engine.
    let mut texts: Vec<String> = utterances.iter().map(|u| u.reference.clone()).collect();
    for engine_runs in &runs {
        for run in engine_runs {
            texts.extend(run.texts.iter().map(|t| t.clone().unwrap_or_default()));
        }
    }
    let normalised = py.normalise(&texts)?;
    let mut chunks = normalised.chunks(utterances.len());
    let refs = chunks.next().context("no references")?.to_vec();
    let mut results = Vec::new();
    for (k, engine_runs) in runs.into_iter().enumerate() {
        let hyps: Vec<Vec<String>> = (0..engine_runs.len())
            .map(|_| {
                chunks
                    .next()
                    .map(<[String]>::to_vec)
                    .context("normaliser output too short")
            })
            .collect::<anyhow::Result<_>>()?;
        results.push(report::engine_result(
            engines_run[k],
            &utterances,
            &refs,
            engine_runs,
            &hyps,
            audio_s,
        ));
    }

    println!(
        "{}: {} files, {audio_s:.1} s of audio; beam {}, {} threads, median of {} run(s)",
        eval_dir.display(),
        utterances.len(),
        setup.beam_size,
        setup.threads,
        opts.runs
    );
    print!("{}", report::table(&results, audio_s));

    let find = |e: Engine| {
        results
            .iter()
            .find(|r| r.engine == e.name())
            .map(|r| r.wall_s)
    };
    let ratio = match (find(Engine::Nexus), find(Engine::FasterWhisper)) {
        (Some(n), Some(f)) => Some(n / f),
        _ => None,
    };
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| root.join("benches/out/accuracy.json"));
    let doc = json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "eval_dir": eval_dir,
        "files": utterances.len(),
        "audio_s": audio_s,
        "beam_size": setup.beam_size,
        "threads": setup.threads,
        "runs": opts.runs,
        "nexus_bin": (!opts.skip_nexus).then_some(&setup.nexus_bin),
        "ggml": (!opts.skip_nexus).then_some(&setup.ggml),
        "ct2_dir": (!opts.skip_peer).then_some(&setup.ct2_dir),
        "versions": { "nexus-scribe": nexus_version, "python": python_versions },
        "machine": {
            "cores": std::thread::available_parallelism().map(usize::from).ok(),
            "cpu": cpu_model(),
            "loadavg_before": load_before,
            "loadavg_after": load_after,
        },
        "time_ratio_nexus_over_faster_whisper": ratio,
        "engines": results,
    });
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&doc).context("encoding the results")?;
    std::fs::write(&out, text + "\n").with_context(|| format!("writing {}", out.display()))?;
    println!("per-file results: {}", out.display());
    Ok(())
}

/// `$CARGO_TARGET_DIR/release/nexus-scribe`, else `<root>/target/release/nexus-scribe`.
pub(crate) fn default_nexus_bin(root: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let bin = PathBuf::from(dir).join("release/nexus-scribe");
        if bin.is_file() {
            return bin;
        }
    }
    root.join("target/release/nexus-scribe")
}

/// The ggml file for `nexus-scribe`: `model` itself, or in a model folder `ggml-q8_0.bin` (the
/// project's default quantisation), else `ggml-f16.bin`.
fn pick_ggml(model: &Path) -> anyhow::Result<PathBuf> {
    if model.is_file() {
        return Ok(model.to_owned());
    }
    ["ggml-q8_0.bin", "ggml-f16.bin"]
        .into_iter()
        .map(|name| model.join(name))
        .find(|p| p.is_file())
        .with_context(|| {
            format!(
                "no ggml-q8_0.bin or ggml-f16.bin in {}: run `nexus-scribe models fetch tiny.en` or pass --model",
                model.display()
            )
        })
}

pub(crate) fn version_of(bin: &Path) -> String {
    Command::new(bin)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Reads the inputs and weights once so that neither engine pays for a cold disk.
fn warm_cache(setup: &Setup, engines: &[Engine]) {
    let mut paths: Vec<PathBuf> = setup.files.iter().map(PathBuf::from).collect();
    for engine in engines {
        match engine {
            Engine::Nexus => paths.push(setup.ggml.clone()),
            Engine::FasterWhisper => paths.push(setup.ct2_dir.join("model.bin")),
        }
    }
    for p in paths {
        // Best effort: a file that can't be read now fails loudly in the engine later.
        let _ = std::fs::read(&p);
    }
}

pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map_or_else(|_| "unknown".into(), |s| s.trim().to_owned())
}

pub(crate) fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
}
