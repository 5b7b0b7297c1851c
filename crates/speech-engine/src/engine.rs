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
    /// Decode the audio in one pass of the encoder (whisper.cpp's `single_segment`). Without
    /// it, whisper.cpp moves its window to the last timestamp the decoder emitted and, when
    /// more than a second of audio is left after it, encodes and decodes that rest again:
    /// right for long recordings, but for a streaming step (audio that stops mid-speech) it
    /// doubles the cost of many steps and re-transcribes the tail. Only for audio that fits
    /// one 30 s window; longer audio is always decoded window by window.
    pub single_pass: bool,
    /// Cap on the tokens decoded per second of audio (plus a fixed allowance), or 0 for
    /// none. Speech runs at most ~8 tokens a second; a decoder stuck repeating a phrase
    /// would otherwise run on to 220 tokens (over a second of decoding on one core).
    pub max_tokens_per_second: u32,
    /// When the output of a fitted window repeats a phrase, decode again with the full 30 s
    /// window. Streaming partials turn it off: the streaming policy drops the repeat and the
    /// next step hears the audio again, which costs less than a full-window decode.
    pub redecode_loops: bool,
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
            single_pass: false,
            max_tokens_per_second: 0,
            redecode_loops: true,
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
