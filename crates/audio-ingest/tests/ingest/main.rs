//! The one integration-test binary of `audio-ingest`: decoding real files of every format,
//! every error a user can hit, malformed input that must never panic, container streams decoded
//! as they arrive, and the live-stream segmenter on real speech.

mod container;
mod errors;
mod formats;
mod robustness;
mod streaming;
mod support;
