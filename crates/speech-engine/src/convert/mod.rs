//! CTranslate2 (faster-whisper) model directory → whisper.cpp ggml file.
//!
//! Pure Rust, one tensor in memory at a time. [`convert_ct2_dir`] reads `model.bin` (any of
//! CTranslate2's float16, bfloat16, float32, int8 or int16 weight types) and the tokenizer,
//! computes the mel filterbank, maps the CTranslate2 variables onto whisper.cpp's tensor names
//! and writes f16 or Q8_0 weights ([`Quantization`]).

mod ct2;
mod dtype;
mod error;
mod ggml;
mod hparams;
mod layout;
mod mel;
mod quant;
mod run;
mod vocab;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;

/// Bumped whenever the converter's output changes, so `models fetch` redoes stale files.
pub const CONVERTER_VERSION: u32 = 1;

pub use error::ConvertError;
pub use quant::Quantization;
pub use run::{convert_ct2_dir, ConvertSummary};
