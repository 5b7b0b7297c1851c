//! Speech recognition: OpenAI Whisper through whisper.cpp behind the [`SpeechEngine`] trait,
//! plus model management (fetching the default weights and converting CTranslate2 models to
//! ggml), and the [`Scheduler`] that runs every live stream's decoding on the cores. The only
//! crate that touches FFI.

pub mod convert;
mod engine;
mod error;
pub mod fetch;
pub mod model;
pub mod scheduler;
mod whisper;
mod words;

pub use engine::{default_threads, DecodeOptions, ModelInfo, Progress, SpeechEngine};
pub use error::EngineError;
pub use scheduler::{
    AdmitError, Job, JobKind, MetricsSnapshot, Scheduler, SchedulerConfig, StreamHandle,
};
pub use whisper::WhisperEngine;
