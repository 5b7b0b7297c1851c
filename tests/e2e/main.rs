//! End-to-end tests of the assembled `nexus-scribe` binary, one module per area.

mod cli_config;
mod live_page;
mod transcribe;
