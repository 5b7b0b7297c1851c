//! `models fetch | convert | list`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use speech_engine::convert::{convert_ct2_dir, Quantization};
use speech_engine::model::{ggml_file_name, CATALOG};

use crate::cli::{ModelsCommand, Quantize};
use crate::config::Config;

pub fn run(config: &Config, cmd: ModelsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ModelsCommand::Fetch { name, models_dir } => {
            let dir = models_dir.unwrap_or_else(|| config.models_dir());
            let report =
                speech_engine::fetch::fetch(&name, &dir, &[Quantization::F16, Quantization::Q8_0])?;
            let files: Vec<String> = report
                .files
                .iter()
                .map(|f| f.display().to_string())
                .collect();
            if report.downloaded {
                println!("fetched {} into {}", report.name, report.dir.display());
            } else {
                println!(
                    "{} already present in {}",
                    report.name,
                    report.dir.display()
                );
            }
            for f in files {
                println!("  {f}");
            }
        }
        ModelsCommand::Convert { src, out, quantize } => {
            let q = match quantize {
                Quantize::F16 => Quantization::F16,
                Quantize::Q8_0 => Quantization::Q8_0,
            };
            let out: PathBuf = out.unwrap_or_else(|| src.join(ggml_file_name(q)));
            let summary = convert_ct2_dir(&src, &out, q)
                .with_context(|| format!("converting {}", src.display()))?;
            println!(
                "wrote {} ({} tensors, {} vocabulary entries, {} bytes)",
                out.display(),
                summary.n_tensors,
                summary.n_vocab,
                summary.bytes_written
            );
        }
        ModelsCommand::List { models_dir } => {
            let dir = models_dir.unwrap_or_else(|| config.models_dir());
            for entry in CATALOG {
                let present: Vec<&str> = [Quantization::F16, Quantization::Q8_0]
                    .into_iter()
                    .map(ggml_file_name)
                    .filter(|f| dir.join(entry.name).join(f).is_file())
                    .collect();
                let state = if present.is_empty() {
                    "not fetched".to_owned()
                } else {
                    present.join(", ")
                };
                println!("{:<10} {:<50} {state}", entry.name, entry.description);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The configured model's file; a catalogue model that is not there yet is fetched first (the
/// service starts on embedded defaults with nothing installed beforehand).
pub fn ensure_default_model(config: &Config) -> anyhow::Result<PathBuf> {
    let spec = &config.engine.model;
    let dir = config.models_dir();
    let prefer: Quantization = config.engine.quantization.into();
    match speech_engine::model::resolve(spec, &dir, prefer) {
        Ok(path) => Ok(path),
        Err(first) => {
            if speech_engine::model::catalog_entry(spec).is_err() {
                return Err(first.into());
            }
            tracing::info!(model = %spec, dir = %dir.display(), "fetching the model (first start)");
            speech_engine::fetch::fetch(spec, &dir, &[Quantization::F16, Quantization::Q8_0])
                .with_context(|| format!("cannot fetch the model {spec}"))?;
            Ok(speech_engine::model::resolve(spec, &dir, prefer)?)
        }
    }
}
