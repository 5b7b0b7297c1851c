//! Speech recognition: OpenAI Whisper through whisper.cpp behind the [`SpeechEngine`] trait,
//! plus model management (fetching the default weights and converting CTranslate2 models to
//! ggml). The only crate that touches FFI.

pub mod convert;
mod engine;
mod error;
pub mod fetch;
pub mod model;
mod whisper;
mod words;

pub use engine::{default_threads, DecodeOptions, ModelInfo, Progress, SpeechEngine};
pub use error::EngineError;
pub use whisper::WhisperEngine;
