//! The engine-neutral interface: what the rest of the system asks of a speech recogniser.

use std::sync::atomic::{AtomicU8, Ordering};

use scribe_core::{MonoAudio, Transcript};

use crate::EngineError;

/// How to decode one piece of audio.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodeOptions {
    /// 1 = greedy; more = beam search with that many beams.
    pub beam_size: u32,
    /// Inference threads; never more than the cores available (whisper.cpp's pool collapses
    /// when oversubscribed).
    pub threads: usize,
    /// Spoken language (`en`), or `None` to detect it (multilingual models only).
    pub language: Option<String>,
    /// Text the decoder is conditioned on (the stream's committed transcript so far).
    /// Held as plain text: callers must not log options that carry it.
    pub prompt: Option<String>,
    /// Re-decode at higher temperature when the output looks degenerate. Accurate but can
    /// multiply the time of a short chunk; streaming turns it off.
    pub temperature_fallback: bool,
    /// Size the encoder window to the audio present (short audio only) instead of 30 s.
    pub fit_audio_ctx: bool,
    /// Smallest encoder window when fitting, in 20 ms frames (below ~384 words change).
    pub min_audio_ctx: u32,
    /// Silence the fitted window keeps after the audio, in 20 ms frames, so the model sees
    /// the speech end (too little and it repeats the last phrase). Default 400 (8 s).
    pub audio_ctx_margin: u32,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            beam_size: 5,
            threads: default_threads(),
            language: Some("en".into()),
            prompt: None,
            temperature_fallback: true,
            fit_audio_ctx: true,
            min_audio_ctx: 384,
            audio_ctx_margin: 400,
        }
    }
}

/// The number of cores this process may use, at least 1.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Facts about the loaded model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelInfo {
    /// Short name such as `tiny.en`, or the file stem when unknown.
    pub name: String,
    pub multilingual: bool,
    pub n_audio_ctx: u32,
    pub n_text_layer: u32,
    pub n_mels: u32,
    /// `f16`, `q8_0`, …
    pub weight_type: String,
}

/// Progress of one transcription in percent, readable from another thread.
#[derive(Debug, Default)]
pub struct Progress(AtomicU8);

impl Progress {
    /// Current percentage, `0..=100`.
    pub fn percent(&self) -> u8 {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn set(&self, percent: i32) {
        self.0.store(percent.clamp(0, 100) as u8, Ordering::Relaxed);
    }
}

/// A speech recogniser. Implementations load their model once and are shared between threads.
pub trait SpeechEngine: Send + Sync {
    /// Transcribes 16 kHz mono audio. Timestamps are milliseconds from the start of `audio`.
    fn transcribe(
        &self,
        audio: &MonoAudio,
        opts: &DecodeOptions,
        progress: Option<std::sync::Arc<Progress>>,
    ) -> Result<Transcript, EngineError>;

    /// What model is loaded.
    fn model_info(&self) -> &ModelInfo;
}
