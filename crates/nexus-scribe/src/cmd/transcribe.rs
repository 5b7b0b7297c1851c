//! `transcribe FILE…`: offline transcription of files with the model loaded once.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use indicatif::{ProgressBar, ProgressStyle};
use scribe_core::render::{render, Format};
use scribe_core::Transcript;
use speech_engine::{DecodeOptions, Progress, SpeechEngine, WhisperEngine};

use crate::cli::{OutputFormat, TranscribeArgs};
use crate::config::Config;

pub fn run(config: &Config, args: TranscribeArgs) -> anyhow::Result<ExitCode> {
    let format = match args.format {
        OutputFormat::Txt => Format::Txt,
        OutputFormat::Json => Format::Json,
        OutputFormat::Srt => Format::Srt,
        OutputFormat::Vtt => Format::Vtt,
    };
    if args.files.len() > 1
        && args.output_dir.is_none()
        && matches!(format, Format::Srt | Format::Vtt)
    {
        bail!(
            "{} output of several files needs --output-dir (one subtitle file per input)",
            format.extension()
        );
    }
    if let Some(dir) = &args.output_dir {
        check_output_names(&args.files, dir, format)?;
    }
    let opts = DecodeOptions {
        beam_size: args.beam_size.unwrap_or(config.engine.beam_size),
        threads: args.threads.map_or_else(
            || config.threads(),
            |t| t.clamp(1, speech_engine::default_threads()),
        ),
        language: Some(
            args.language
                .clone()
                .unwrap_or_else(|| config.engine.language.clone()),
        ),
        prompt: None,
        temperature_fallback: config.engine.temperature_fallback,
        fit_audio_ctx: config.engine.fit_audio_ctx,
        ..DecodeOptions::default()
    };
    let spec = args.model.as_deref().unwrap_or(&config.engine.model);
    let model_path = speech_engine::model::resolve(
        spec,
        &config.models_dir(),
        config.engine.quantization.into(),
    )?;
    let engine = WhisperEngine::load(&model_path)?;
    let show_progress = !args.no_progress && std::io::stderr().is_terminal();
    let mut failures = 0usize;
    let stdout = std::io::stdout();
    for (i, path) in args.files.iter().enumerate() {
        match transcribe_one(
            &engine,
            path,
            &opts,
            show_progress,
            (i + 1, args.files.len()),
        ) {
            Ok(transcript) => {
                let text = output(
                    path,
                    &transcript,
                    format,
                    args.files.len() > 1 && args.output_dir.is_none(),
                );
                match &args.output_dir {
                    Some(dir) => {
                        let out = output_path(path, dir, format);
                        std::fs::write(&out, text)
                            .with_context(|| format!("writing {}", out.display()))?;
                    }
                    None => {
                        let mut lock = stdout.lock();
                        lock.write_all(text.as_bytes())
                            .context("writing to standard output")?;
                        lock.flush().context("writing to standard output")?;
                    }
                }
            }
            Err(err) => {
                failures += 1;
                eprintln!("error: {err:#}");
            }
        }
    }
    if failures > 0 {
        eprintln!(
            "error: {failures} of {} files could not be transcribed",
            args.files.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn transcribe_one(
    engine: &WhisperEngine,
    path: &Path,
    opts: &DecodeOptions,
    show_progress: bool,
    (n, total): (usize, usize),
) -> anyhow::Result<Transcript> {
    let audio = audio_ingest::decode_file(path)?;
    let progress = Arc::new(Progress::default());
    let done = AtomicBool::new(false);
    let bar = show_progress.then(|| {
        let bar = ProgressBar::new(100);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos:>3}% {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("[{n}/{total}]"));
        bar.set_message(path.display().to_string());
        bar
    });
    let result = std::thread::scope(|s| {
        if let Some(bar) = &bar {
            let progress = Arc::clone(&progress);
            let done = &done;
            s.spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    bar.set_position(u64::from(progress.percent()));
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
        }
        let r = engine.transcribe(&audio, opts, Some(Arc::clone(&progress)));
        done.store(true, Ordering::Relaxed);
        r
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result.with_context(|| format!("{}: transcription failed", path.display()))
}

fn output(path: &Path, t: &Transcript, format: Format, several: bool) -> String {
    match format {
        Format::Json => {
            let mut v: serde_json::Value =
                serde_json::from_str(&render(t, format)).unwrap_or(serde_json::Value::Null);
            if let Some(obj) = v.as_object_mut() {
                obj.insert("file".into(), path.display().to_string().into());
            }
            format!("{v}\n")
        }
        Format::Txt if several => format!("==> {} <==\n{}\n", path.display(), render(t, format)),
        _ => render(t, format),
    }
}

fn output_path(input: &Path, dir: &Path, format: Format) -> PathBuf {
    let stem = input
        .file_stem()
        .map_or_else(|| "transcript".into(), |s| s.to_string_lossy().into_owned());
    dir.join(format!("{stem}.{}", format.extension()))
}

fn check_output_names(files: &[PathBuf], dir: &Path, format: Format) -> anyhow::Result<()> {
    if !dir.is_dir() {
        bail!("output folder {} does not exist", dir.display());
    }
    let mut seen = HashSet::new();
    for f in files {
        let out = output_path(f, dir, format);
        if !seen.insert(out.clone()) {
            bail!("two inputs would both be written to {}", out.display());
        }
    }
    Ok(())
}
