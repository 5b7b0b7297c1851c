//! End-to-end tests of the assembled `nexus-scribe` binary, one module per area.

mod backup;
mod bot;
mod browser;
mod cli_config;
mod durability;
mod live;
mod live_page;
mod logs;
mod nodes;
mod recordings;
mod signin_page;
mod tls;
mod transcribe;
mod vault;
