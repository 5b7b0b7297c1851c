//! The one integration-test binary of `audio-ingest`: decoding real files of every format,
//! every error a user can hit, and malformed input that must never panic.

mod errors;
mod formats;
mod robustness;
mod support;
