//! The network edge of NexusScribe: bot ingest and viewer WebSockets, the REST API, the
//! per-meeting fan-out hub and the web pages. Speaks HTTP; knows no SQL and no FFI.

pub mod app;
pub mod error;
mod headers;
pub mod hub;
mod pages;

pub use app::{router, serve, AppState};
