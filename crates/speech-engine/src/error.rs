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
    /// The scheduler's configuration is unusable (e.g. more inference threads than cores).
    #[error("invalid scheduler configuration: {0}")]
    SchedulerConfig(String),
    /// A newer submission of the same stream replaced this pending partial decode before it
    /// ran. Not a failure: the newer job covers the same audio and more.
    #[error("superseded by a newer decode of the same stream")]
    Superseded,
    /// The job was dropped without running because its stream was closed.
    #[error("stream closed before the decode ran")]
    StreamClosed,
    /// The job was dropped without running because the scheduler is shutting down.
    #[error("scheduler shutting down")]
    ShuttingDown,
    /// The engine panicked on this job; the scheduler's worker caught it and carries on.
    #[error("the speech engine panicked while decoding")]
    Panicked,
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
