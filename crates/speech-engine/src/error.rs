//! Errors of the speech engine and of model management.

use std::path::PathBuf;

/// Why a model could not be loaded, fetched or run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No model at the expected place; the message says which command fetches it.
    #[error("model {name:?} not found in {}: run `{fetch_command}`", dir.display())]
    ModelMissing {
        name: String,
        dir: PathBuf,
        fetch_command: String,
    },
    /// The directory holds a CTranslate2 (faster-whisper) model that needs converting first.
    #[error("{} is a CTranslate2 model directory: convert it with `nexus-scribe models convert {}`", .0.display(), .0.display())]
    NeedsConversion(PathBuf),
    /// whisper.cpp refused the model file.
    #[error("{}: not a usable whisper.cpp model ({reason})", path.display())]
    ModelLoad { path: PathBuf, reason: String },
    /// The model name is not in the catalogue.
    #[error("unknown model {0:?}: known models are {1}")]
    UnknownModel(String, String),
    /// Decoding options out of range.
    #[error("invalid decode options: {0}")]
    InvalidOptions(String),
    /// Nothing to transcribe.
    #[error("no audio samples to transcribe")]
    NoAudio,
    /// Inference failed inside whisper.cpp.
    #[error("inference failed: {0}")]
    Inference(String),
    /// Fetching a model failed.
    #[error("fetching model {name:?} failed: {reason}")]
    Fetch { name: String, reason: String },
    /// Converting a model failed.
    #[error(transparent)]
    Convert(#[from] crate::convert::ConvertError),
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
