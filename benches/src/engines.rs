//! Running each engine once, as one process over all files, measured from outside.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::jsonl;
use crate::measure::{self, Report};

/// The engines compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Nexus,
    FasterWhisper,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Self::Nexus => "nexus-scribe",
            Self::FasterWhisper => "faster-whisper",
        }
    }
}

/// What both engines are given.
pub struct Setup {
    /// Absolute audio paths, passed to the engines exactly as written here.
    pub files: Vec<String>,
    pub beam_size: u32,
    pub threads: usize,
    /// Working directory of the engines (the repository root, so `nexus-scribe` reads the
    /// project's `config.toml` as a user running it there would).
    pub cwd: PathBuf,
    pub nexus_bin: PathBuf,
    /// The ggml file given to `nexus-scribe`.
    pub ggml: PathBuf,
    pub python: PathBuf,
    pub faster_whisper_script: PathBuf,
    pub ct2_dir: PathBuf,
}

/// faster-whisper's own split of its run (seconds), from its script.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct PeerTiming {
    /// Interpreter start-up is not in here; importing faster-whisper (ctranslate2, av, ...) is.
    pub import_s: f64,
    pub load_s: f64,
    pub transcribe_s: f64,
}

/// One measured run of one engine.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    #[serde(flatten)]
    pub measured: Report,
    /// Per input file, in input order; `None` where the engine produced no transcript.
    pub texts: Vec<Option<String>>,
    pub timing: Option<PeerTiming>,
    /// The end of the engine's error output when it failed, for the JSON report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr_tail: Option<String>,
}

/// Runs `engine` over all files once.
pub fn run(engine: Engine, setup: &Setup) -> anyhow::Result<Run> {
    let threads = setup.threads.to_string();
    let beam = setup.beam_size.to_string();
    let timing_file = tempfile::NamedTempFile::new().context("creating a temporary timing file")?;
    let mut cmd: Vec<OsString> = Vec::new();
    let mut env: Vec<(&str, &str)> = Vec::new();
    match engine {
        Engine::Nexus => {
            cmd.push(setup.nexus_bin.clone().into());
            cmd.push("transcribe".into());
            cmd.extend(setup.files.iter().map(OsString::from));
            for arg in [
                "--format",
                "json",
                "--no-progress",
                "--language",
                "en",
                "--beam-size",
                &beam,
                "--threads",
                &threads,
            ] {
                cmd.push(arg.into());
            }
            cmd.push("--model".into());
            cmd.push(setup.ggml.clone().into());
        }
        Engine::FasterWhisper => {
            cmd.push(setup.python.clone().into());
            cmd.push(setup.faster_whisper_script.clone().into());
            cmd.push("--model".into());
            cmd.push(setup.ct2_dir.clone().into());
            for arg in ["--beam-size", &beam, "--threads", &threads] {
                cmd.push(arg.into());
            }
            cmd.push("--timing-out".into());
            cmd.push(timing_file.path().into());
            cmd.extend(setup.files.iter().map(OsString::from));
            env.extend([("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1")]);
        }
    }
    let out = measure::measured(&cmd, &setup.cwd, &env)?;
    let texts = jsonl::texts_for(&setup.files, &out.stdout)
        .with_context(|| format!("reading {}'s output", engine.name()))?;
    let timing = match engine {
        Engine::Nexus => None,
        Engine::FasterWhisper => read_timing(timing_file.path()),
    };
    let failed = out.report.exit_code != Some(0) || texts.iter().any(Option::is_none);
    Ok(Run {
        measured: out.report,
        texts,
        timing,
        stderr_tail: failed.then(|| tail(&out.stderr, 40)),
    })
}

fn read_timing(path: &Path) -> Option<PeerTiming> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
