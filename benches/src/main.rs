//! Benchmark drivers for NexusScribe: accuracy (WER) and speed against faster-whisper, and
//! live-transcription latency and capacity.

mod accuracy;
mod engines;
mod jsonl;
mod live;
mod manifest;
mod measure;
mod python;
mod report;
mod storage;
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
    Accuracy(accuracy::Options),
    /// Live transcription: N bots streaming real speech at real-time pace, the latency of every
    /// final word at a viewer, first partials, WER of the finals, server CPU and memory, and
    /// the largest N that keeps p95 final-word latency within the limit (`--sweep`).
    Live(live::Options),
    /// Storage: segment write throughput and transcript read latency of the embedded and the
    /// PostgreSQL backend in one run (encrypted, as in production), with their ratio.
    Storage(storage::Options),
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
        Cmd::Accuracy(options) => accuracy::run(options).map(|()| ExitCode::SUCCESS),
        Cmd::Live(options) => live::run(options).map(|()| ExitCode::SUCCESS),
        Cmd::Storage(options) => storage::run(options).map(|()| ExitCode::SUCCESS),
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
