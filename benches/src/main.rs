//! Benchmark drivers for NexusScribe: accuracy (WER) and speed against faster-whisper.

mod accuracy;
mod engines;
mod jsonl;
mod manifest;
mod measure;
mod python;
mod report;
mod wer;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "scribe-bench", about = "NexusScribe benchmark drivers")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Word error rate, real-time factor and peak memory of nexus-scribe and faster-whisper on
    /// the same files, weights, beam size and thread count, in one run.
    Accuracy {
        /// Evaluation folder with manifest.tsv [default: <repo>/../shared/eval/dev].
        #[arg(long, value_name = "DIR")]
        eval_dir: Option<PathBuf>,
        /// nexus-scribe executable [default: $CARGO_TARGET_DIR/release/nexus-scribe, else
        /// <repo>/target/release/nexus-scribe].
        #[arg(long, value_name = "PATH")]
        nexus_bin: Option<PathBuf>,
        /// A ggml file, or a model folder holding ggml-q8_0.bin / ggml-f16.bin
        /// [default: <repo>/data/models/tiny.en].
        #[arg(long, value_name = "PATH")]
        model: Option<PathBuf>,
        /// CTranslate2 folder for faster-whisper, the weights the ggml files were converted from
        /// [default: ct2/ inside the model folder, or beside the ggml file].
        #[arg(long, value_name = "DIR")]
        ct2_dir: Option<PathBuf>,
        #[arg(long, default_value_t = 5)]
        beam_size: u32,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Runs of each engine; times, memory and WER are the medians.
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// JSON results with per-file errors [default: <repo>/benches/out/accuracy.json].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Do not run faster-whisper.
        #[arg(long)]
        skip_peer: bool,
        /// Do not run nexus-scribe.
        #[arg(long)]
        skip_nexus: bool,
        /// Python interpreter with faster-whisper and whisper-normalizer.
        #[arg(long, default_value = "python3", value_name = "PATH")]
        python: PathBuf,
        /// Only the first N files of the manifest (for a quick check; figures need all).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Run a command and report its wall time, CPU time and peak RSS as JSON.
    Measure {
        /// Write the report here instead of standard error.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<OsString>,
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Cmd::Accuracy {
            eval_dir,
            nexus_bin,
            model,
            ct2_dir,
            beam_size,
            threads,
            runs,
            out,
            skip_peer,
            skip_nexus,
            python,
            limit,
        } => accuracy::run(accuracy::Options {
            eval_dir,
            nexus_bin,
            model,
            ct2_dir,
            beam_size,
            threads,
            runs,
            out,
            skip_peer,
            skip_nexus,
            python,
            limit,
        })
        .map(|()| ExitCode::SUCCESS),
        Cmd::Measure { report, command } => measure::run(report.as_deref(), &command),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
